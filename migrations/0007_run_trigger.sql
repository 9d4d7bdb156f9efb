-- What started each run (cli.md, `kakin serve`): `hand` (a command typed or scripted) or
-- `schedule` (the daemon's cron schedules).
ALTER TABLE runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'hand';
