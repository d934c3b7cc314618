-- A rollout may halt only on evidence: the confidence its failure-rate bound needs.
ALTER TABLE rollouts ADD COLUMN halt_confidence DOUBLE PRECISION;
