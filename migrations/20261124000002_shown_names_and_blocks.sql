-- Which name each document shows, decided here once: `shown_nickname` where the
-- Talk document asks for a nickname (the nickname, else the username),
-- `shown_username` where the matching document asks for a username (the username,
-- else the nickname). Queries and the Rust code read these, never the rule.
ALTER TABLE users
    ADD COLUMN shown_nickname TEXT GENERATED ALWAYS AS (COALESCE(nickname, username, '')) STORED,
    ADD COLUMN shown_username TEXT GENERATED ALWAYS AS (COALESCE(username, nickname, '')) STORED;

-- Blocks work both ways: matching, broadcasts and conversations hide two users
-- from each other when either blocked the other. The rule is written here once:
-- the users blocked either way with `u`. Call it in a FROM clause
-- (`EXISTS (SELECT 1 FROM blocked_with(a) AS x WHERE x = b)`), where the planner
-- inlines it into the query; elsewhere it runs as a separate function call.
CREATE FUNCTION blocked_with(u BIGINT) RETURNS SETOF BIGINT
LANGUAGE sql STABLE AS $$
    SELECT blocked_id FROM blocks WHERE blocker_id = u
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = u
$$;
