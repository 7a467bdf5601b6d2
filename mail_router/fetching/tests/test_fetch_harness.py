"""The test harness itself (testsupport), which the Odoo tests reuse: it
must fail clearly, and leave no process or directory behind."""
import socket

import pytest

from testsupport import dovecot as dovecot_module
from testsupport.dovecot import INSTALL_HINT, Dovecot, live_processes_in_group
from testsupport.proxy import Proxy


def test_a_missing_dovecot_says_what_to_install(monkeypatch):
    monkeypatch.setattr(dovecot_module, 'DOVECOT', '/nonexistent/dovecot')
    with pytest.raises(RuntimeError, match=INSTALL_HINT):
        Dovecot().start()


def test_a_failed_start_shows_dovecot_s_log_and_cleans_up(monkeypatch):
    broken = Dovecot()
    original_config = dovecot_module._config
    monkeypatch.setattr(dovecot_module, '_config',
                        lambda *args: original_config(*args) + "no_such_setting = 1\n")
    with pytest.raises(RuntimeError, match="Unknown setting: no_such_setting"):
        broken.start()
    assert broken.directory is None


def test_stop_ends_every_process_and_removes_the_directory():
    server = Dovecot().start()
    directory, pid = server.directory, server._process.pid
    server.stop()
    assert not directory.exists()
    assert live_processes_in_group(pid) == []


def test_the_proxy_passes_bytes_both_ways_unchanged():
    with socket.create_server(('127.0.0.1', 0)) as listener:
        with Proxy(listener.getsockname()[1]) as proxy:
            client = socket.create_connection(('127.0.0.1', proxy.port), timeout=5)
            server, _ = listener.accept()
            payload = bytes(range(256)) * 1000
            client.sendall(payload)
            received = b''
            while len(received) < len(payload):
                received += server.recv(65536)
            server.sendall(received)
            echoed = b''
            while len(echoed) < len(payload):
                echoed += client.recv(65536)
            client.close()
            server.close()
    assert received == echoed == payload


def test_a_port_taken_meanwhile_is_picked_again(monkeypatch):
    with socket.create_server(('127.0.0.1', 0)) as squatter:
        taken = squatter.getsockname()[1]
        picks = iter([taken])
        free_port = dovecot_module._free_port
        monkeypatch.setattr(dovecot_module, '_free_port', lambda: next(picks, None) or free_port())
        with Dovecot() as server:
            assert taken not in vars(server.ports).values()
