"""The simulator's scheduled state change (STATE <state> AFTER <n>), added for mid-print faults."""

from __future__ import annotations

import socket

from escpos.printer import Network


def test_state_switches_on_the_exact_byte(sim):
    """GIVEN paper_out scheduled after 13 bytes WHEN 23 bytes of text arrive in one segment THEN
    the first 13 print, the rest are discarded, and the torn-off piece holds the first 13."""
    sim.set_state_after(13, "paper_out")
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
        s.sendall(b"first line\nsecond line\n")  # 11 + 2 printed ("se"), 10 discarded
        s.sendall(b"\x10\x04\x04")  # DLE EOT 4: answered in order, so the switch has happened
        assert s.recv(1) == b"\x7e"
    (torn,) = sim.wait_for_receipts(1)
    assert torn.cut == "none" and [line.text for line in torn.lines] == ["first line", "se"]
    assert sim.discarded_bytes == 10 and sim.state.value == "paper_out"


def test_state_after_over_the_control_channel(sim):
    with socket.create_connection(("127.0.0.1", sim.control_port), timeout=5) as c:
        f = c.makefile("rw")

        def ask(line: str) -> str:
            f.write(line + "\n")
            f.flush()
            return f.readline().strip()

        assert ask("STATE cover_open AFTER 100") == "OK"
        assert ask("STATE") == "STATE ok"
        p = Network("127.0.0.1", port=sim.port, timeout=5)
        p.open()
        p.text("x" * 99 + "\n")
        assert not p.is_online()  # the 100th byte was the last one printed
        p.close()
        assert ask("STATE") == "STATE cover_open"
        assert ask("STATE ok AFTER lots").startswith("ERR")
        assert ask("STATE ok AFTER 1 2").startswith("ERR")
