"""What the e-card, family-account and certificate operations keep, in the simulator's SQLite store:
used tokens, sign-ins, e-card states, family changes, applications and issued certificates."""

from __future__ import annotations

import json
import time
from typing import Any

from .store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS ecard_tokens_used (nonce TEXT PRIMARY KEY, account TEXT NOT NULL,
    used_unix REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ecard_signins (verification_id TEXT PRIMARY KEY,
    id_number TEXT NOT NULL, kiosk_id TEXT NOT NULL, created_unix REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ecard_states (id_number TEXT PRIMARY KEY, status TEXT NOT NULL,
    activated_on TEXT);
CREATE TABLE IF NOT EXISTS ecard_applications (application_id TEXT PRIMARY KEY,
    id_number TEXT NOT NULL, operator TEXT, kiosk_id TEXT NOT NULL, created_unix REAL NOT NULL);
CREATE TABLE IF NOT EXISTS family_changes (owner TEXT NOT NULL, member TEXT NOT NULL,
    relation TEXT NOT NULL, removed INTEGER NOT NULL, PRIMARY KEY (owner, member));
CREATE TABLE IF NOT EXISTS certificates (code TEXT PRIMARY KEY, certificate_id TEXT NOT NULL,
    id_number TEXT NOT NULL, body TEXT NOT NULL, created_unix REAL NOT NULL);
"""
TABLES = ("ecard_tokens_used", "ecard_signins", "ecard_states", "ecard_applications",
          "family_changes", "certificates")


class ECardStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.script(SCHEMA)

    def use_token(self, nonce: str, account: str) -> bool:
        """Record a token as consumed; False if it was consumed before."""
        return self.store.changed("INSERT OR IGNORE INTO ecard_tokens_used VALUES (?, ?, ?)",
                                  (nonce, account, time.time())) == 1

    def token_used(self, nonce: str) -> bool:
        return bool(self.store.rows("SELECT 1 FROM ecard_tokens_used WHERE nonce = ?", (nonce,)))

    def put_signin(self, verification_id: str, id_number: str, kiosk_id: str) -> None:
        self.store.changed("INSERT INTO ecard_signins VALUES (?, ?, ?, ?)",
                           (verification_id, id_number, kiosk_id, time.time()))

    def signin(self, verification_id: str) -> dict[str, Any] | None:
        rows = self.store.rows("SELECT id_number, kiosk_id, created_unix FROM ecard_signins"
                               " WHERE verification_id = ?", (verification_id,))
        if not rows:
            return None
        return {"id_number": rows[0][0], "kiosk_id": rows[0][1], "created_unix": rows[0][2]}

    def state(self, id_number: str) -> tuple[str, str | None] | None:
        rows = self.store.rows("SELECT status, activated_on FROM ecard_states WHERE id_number = ?",
                               (id_number,))
        return (str(rows[0][0]), rows[0][1]) if rows else None

    def set_state(self, id_number: str, status: str, activated_on: str | None) -> None:
        self.store.changed(
            "INSERT INTO ecard_states VALUES (?, ?, ?) ON CONFLICT(id_number) DO UPDATE"
            " SET status = excluded.status, activated_on = excluded.activated_on",
            (id_number, status, activated_on))

    def put_application(self, application_id: str, id_number: str, operator: str | None,
                        kiosk_id: str) -> None:
        self.store.changed("INSERT INTO ecard_applications VALUES (?, ?, ?, ?, ?)",
                           (application_id, id_number, operator, kiosk_id, time.time()))

    def family_changes(self, owner: str) -> list[tuple[str, str, bool]]:
        """(member, relation, removed) in the order they were first changed."""
        rows = self.store.rows("SELECT member, relation, removed FROM family_changes"
                               " WHERE owner = ? ORDER BY rowid", (owner,))
        return [(str(m), str(r), bool(x)) for m, r, x in rows]

    def change_family(self, owner: str, member: str, relation: str, removed: bool) -> None:
        self.store.changed(
            "INSERT INTO family_changes VALUES (?, ?, ?, ?) ON CONFLICT(owner, member) DO UPDATE"
            " SET relation = excluded.relation, removed = excluded.removed",
            (owner, member, relation, int(removed)))

    def put_certificate(self, code: str, certificate_id: str, id_number: str,
                        body: dict[str, Any]) -> None:
        self.store.changed("INSERT INTO certificates VALUES (?, ?, ?, ?, ?)",
                           (code, certificate_id, id_number, json.dumps(body, ensure_ascii=False),
                            time.time()))

    def certificate(self, code: str) -> dict[str, Any] | None:
        rows = self.store.rows("SELECT body FROM certificates WHERE code = ?", (code,))
        return json.loads(rows[0][0]) if rows else None

    def snapshot(self) -> dict[str, Any]:
        """For the admin endpoint: counts, e-card states and family changes (no tokens)."""
        counts = {t: self.store.rows(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}
        states = {i: {"status": s, "activated_on": a}
                  for i, s, a in self.store.rows("SELECT * FROM ecard_states")}
        family = [{"owner": o, "member": m, "relation": r, "removed": bool(x)}
                  for o, m, r, x in self.store.rows("SELECT * FROM family_changes ORDER BY rowid")]
        return {"counts": counts, "ecard_states": states, "family_changes": family}

    def reset(self) -> None:
        with self.store.transaction():
            for table in TABLES:
                self.store.changed(f"DELETE FROM {table}")
