-- Refunds look up what was charged for one match, whoever paid it.
CREATE INDEX gem_ledger_ref_idx ON gem_ledger (ref, reason);
