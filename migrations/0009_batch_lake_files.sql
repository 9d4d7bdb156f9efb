-- The lake files each ingest batch writes (lake.md), one path per line, recorded with the batch
-- when it begins: the close and the refresh read exactly the files they bill, and a killed
-- run's files are removed, without listing the lake (on S3 a listing of `plays/` grows with
-- every night of history). NULL for a batch committed before this column existed: its files
-- are found by listing, as before.
ALTER TABLE ingest_batches ADD COLUMN lake_files TEXT;
