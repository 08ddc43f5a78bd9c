-- Matching beyond the documents (SPEC.md "Beyond the documents: matching"): languages
-- (ISO 639-1 codes), interest tags, and whether the filters may relax while waiting.
ALTER TABLE match_settings
    ADD COLUMN languages text[] NOT NULL DEFAULT '{}',
    ADD COLUMN interests text[] NOT NULL DEFAULT '{}',
    ADD COLUMN relax boolean NOT NULL DEFAULT false;
