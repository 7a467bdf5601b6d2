"""The two OAuth2 providers whose mailboxes Odoo 18 reads over IMAP with XOAUTH2:
Microsoft (Odoo's ``microsoft_outlook``, server type "outlook") and Google
(``google_gmail``, server type "gmail"). What an administrator must be told
about each when its tokens fail: where the account is connected again, where
the application's credentials are, what lets an account read its mailbox over
IMAP. The words follow the screens of Odoo 18 and of the providers' consoles."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    server_type: str        # fetchmail.server's server_type
    company: str            # who issues the tokens
    account: str            # the kind of account ("the Outlook account")
    token_url: str          # the token endpoint Odoo's module posts to (by default)
    imap_scope: str         # the scope the IMAP server requires in the access token
    connect: str            # the button of the server form that asks for consent again
    token_valid: str        # the badge the form shows once a refresh token is stored
    credentials: str        # where the application's Client ID and Secret are entered in Odoo
    secrets: str            # where the provider's console makes a new client secret
    consent: str            # how to grant the IMAP scope, beyond accepting the consent screen
    imap_access: str        # what lets the account read its mailbox over IMAP


MICROSOFT = Provider(
    server_type='outlook',
    company='Microsoft',
    account='Outlook',
    token_url='https://login.microsoftonline.com/common/oauth2/v2.0/token',
    imap_scope='https://outlook.office.com/IMAP.AccessAsUser.All',
    connect='Connect your Outlook account',
    token_valid='Outlook Token Valid',
    credentials='Settings > General Settings > Emails > Use an Outlook Server (ID, Secret)',
    secrets='Microsoft Entra admin center > App registrations > the application > Certificates & secrets',
    consent=("accept every permission asked (IMAP.AccessAsUser.All, offline_access); where users may not "
             "consent, an administrator grants it for the organisation (Microsoft Entra admin center > "
             "Enterprise applications > the application > Permissions > Grant admin consent)"),
    imap_access=("the account is enabled and has an Exchange Online mailbox with IMAP turned on (Microsoft 365 "
                 "admin center > Users > Active users > the user > Mail > Manage email apps > IMAP; and IMAP "
                 "allowed by the organisation's authentication policies)"),
)

GOOGLE = Provider(
    server_type='gmail',
    company='Google',
    account='Gmail',
    token_url='https://oauth2.googleapis.com/token',
    imap_scope='https://mail.google.com/',
    connect='Connect your Gmail account',
    token_valid='Gmail Token Valid',
    credentials='Settings > General Settings > Emails > Use a Gmail Server (ID, Secret)',
    secrets='Google Cloud console > APIs & Services > Credentials > the OAuth client',
    consent=('tick "Read, compose, send and permanently delete all your email from Gmail" on Google\'s '
             'consent screen (https://mail.google.com/)'),
    imap_access=("the account is enabled and may use IMAP (Google Workspace: Admin console > Apps > Google "
                 "Workspace > Gmail > End User Access > POP and IMAP access)"),
)

PROVIDERS = {provider.server_type: provider for provider in (MICROSOFT, GOOGLE)}
