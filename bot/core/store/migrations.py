"""The schema of the store, as forward-only migrations: every table's definition lives here.

Each entry takes the file from one ``PRAGMA user_version`` to the next, so an existing store
is upgraded in place and a file written by a newer corrbot is recognised and refused (see
:mod:`bot.core.store.database`). The statements that read and write each table live with
the table's owner (``prices``, ``alerts``, ``outbox``, ``chats``, ``meta``); only the
definitions are here, in the order they were introduced, because a migration, once
shipped, never changes.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

#: Forward migrations; entry ``i`` takes the schema from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE prices (
        symbol     TEXT NOT NULL,
        ts         TEXT NOT NULL,   -- observation instant, UTC
        close      REAL,            -- NULL when the source gave not-a-number
        source     TEXT NOT NULL,   -- e.g. ccxt:kraken, yfinance, csv, synthetic
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (symbol, ts)
    ) WITHOUT ROWID;
    CREATE TABLE fetch_log (
        symbol       TEXT PRIMARY KEY,
        source       TEXT NOT NULL,
        attempted_at TEXT NOT NULL,
        succeeded_at TEXT,
        error        TEXT
    );
    -- instants a source was asked for and did not have (pre-listing days, outages)
    -- remembered so a refresh does not ask again, and flagged by the quality checks
    CREATE TABLE price_gaps (
        symbol     TEXT NOT NULL,
        ts         TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        PRIMARY KEY (symbol, ts)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,   -- rule:pair:window:session, recorded once
        kind        TEXT NOT NULL,
        crypto      TEXT NOT NULL,
        equity      TEXT NOT NULL,
        window_len  INTEGER NOT NULL,
        session     TEXT NOT NULL,          -- NYSE session date the data is as of
        corr        REAL NOT NULL,
        prev_corr   REAL,
        z           REAL,
        regime_from TEXT,
        regime_to   TEXT,
        catch_up    INTEGER NOT NULL DEFAULT 0,
        since       TEXT,
        message     TEXT NOT NULL,          -- the plain-text rendering, for history
        created_at  TEXT NOT NULL
    );
    CREATE INDEX alerts_by_session ON alerts (session);
    CREATE TABLE engine_state (
        crypto     TEXT NOT NULL,
        equity     TEXT NOT NULL,
        window_len INTEGER NOT NULL,
        state      TEXT NOT NULL,           -- JSON of the engine's PairState
        updated_at TEXT NOT NULL,
        PRIMARY KEY (crypto, equity, window_len)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE chats (
        chat_id            INTEGER PRIMARY KEY,
        thread_id          INTEGER,          -- forum topic the chat subscribed from
        kind               TEXT NOT NULL,    -- private | group | supergroup | channel
        title              TEXT NOT NULL DEFAULT '',
        active             INTEGER NOT NULL DEFAULT 1,
        spikes             TEXT NOT NULL DEFAULT 'on',   -- on | silent | off
        regimes            TEXT NOT NULL DEFAULT 'on',   -- on | silent | off
        digest             INTEGER NOT NULL DEFAULT 0,
        subscribed_at      TEXT,
        unsubscribed_at    TEXT,
        deactivated_reason TEXT,
        updated_at         TEXT NOT NULL
    );
    CREATE TABLE outbound (
        id         INTEGER PRIMARY KEY,
        key        TEXT NOT NULL UNIQUE,     -- an alert key, or digest:<session>
        kind       TEXT NOT NULL,            -- spike | decoupling | regime | digest | notice
        alert_id   INTEGER REFERENCES alerts (id),
        payload    TEXT NOT NULL,            -- the transport-neutral message, JSON
        created_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY,
        outbound_id     INTEGER NOT NULL REFERENCES outbound (id),
        chat_id         INTEGER NOT NULL,
        thread_id       INTEGER,
        silent          INTEGER NOT NULL DEFAULT 0,
        status          TEXT NOT NULL DEFAULT 'pending', -- or sending, sent, failed, dropped
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        message_id      INTEGER,
        created_at      TEXT NOT NULL,
        sent_at         TEXT,
        UNIQUE (outbound_id, chat_id)
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)
    """,
    """
    ALTER TABLE alerts ADD COLUMN direction TEXT;    -- up | down: the correlation rose or fell
    ALTER TABLE alerts ADD COLUMN lower REAL;        -- 95% interval of corr
    ALTER TABLE alerts ADD COLUMN upper REAL;
    ALTER TABLE alerts ADD COLUMN prev_lower REAL;   -- 95% interval of prev_corr
    ALTER TABLE alerts ADD COLUMN prev_upper REAL;
    ALTER TABLE alerts ADD COLUMN notify INTEGER NOT NULL DEFAULT 1;  -- 0: silent follow-up
    ALTER TABLE alerts ADD COLUMN episode TEXT;      -- key of the alert that opened it
    ALTER TABLE outbound ADD COLUMN reply_to TEXT;   -- key of the outbound this one answers
    -- alerts of earlier versions: a decoupling, or a regime change to a lower band, fell
    UPDATE alerts SET direction = CASE
        WHEN kind = 'decoupling' THEN 'down'
        WHEN kind = 'regime' AND regime_from IS NOT NULL AND (
            CASE regime_to WHEN 'inverse' THEN 0 WHEN 'decoupled' THEN 1
                WHEN 'linked' THEN 2 ELSE 3 END
        ) < (
            CASE regime_from WHEN 'inverse' THEN 0 WHEN 'decoupled' THEN 1
                WHEN 'linked' THEN 2 ELSE 3 END
        ) THEN 'down'
        ELSE 'up'
    END
    """,
    """
    -- the earliest price instant of either leg revised, or filled late, after this state
    -- was saved: the engine re-evaluates the sessions from there (NULL: nothing to redo)
    ALTER TABLE engine_state ADD COLUMN reopen_at TEXT
    """,
    """
    -- the plain-text copy of each alert was written and never read: messages are rendered
    -- from the alert when shown, and the outbox keeps the payload actually sent
    ALTER TABLE alerts DROP COLUMN message
    """,
)
