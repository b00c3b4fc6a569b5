-- When each scheduled job last succeeded (for /metrics and the status page): a failing job keeps it.
ALTER TABLE job_runs ADD COLUMN last_success INTEGER;
UPDATE job_runs SET last_success = last_finished WHERE last_outcome = 'ok';
