-- The batch that accepted each id (lake.md), as its name's 16 hexadecimal digits read as one
-- 64-bit integer. An ingest records a long batch's ids as it goes, each few thousand in a
-- transaction of their own, so that its memory does not grow with the night; a run that finds
-- a batch pending (a killed run) removes that batch's ids with its files. NULL for ids
-- accepted before this column existed, whose batches all committed.
ALTER TABLE accepted_events ADD COLUMN batch_key BIGINT;
