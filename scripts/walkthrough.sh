#!/usr/bin/env bash
# The README's walkthrough ("A walkthrough with curl"), run against a server:
#   scripts/walkthrough.sh http://127.0.0.1:8080
# Two users sign up, match, accept, call, rate the call, then use Talk
# (a voice broadcast, a reply, a conversation, a message). Every step prints the
# curl command it runs ($A/$B stand for the users' tokens) and checks the HTTP
# status; any unexpected status ends the script with exit code 1.
# Needs bash, curl and python3; the server must be in development mode
# (APP_ENV unset). tests/api/walkthrough.rs runs it against a test server.
set -euo pipefail

BASE=${1:?usage: scripts/walkthrough.sh BASE_URL}
BASE=${BASE%/}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOICE="$ROOT/tests/fixtures/tone.m4a"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
A='' B=''

# step EXPECTED NAME CURL-ARGS...: runs curl, keeps the body in $TMP/NAME.json,
# prints it, and fails unless the status is one of EXPECTED ("200" or "200 201").
step() {
  local expected=$1 name=$2
  shift 2
  local shown=curl arg
  for arg in "$@"; do
    [ -n "$A" ] && arg=${arg//$A/\$A}
    [ -n "$B" ] && arg=${arg//$B/\$B}
    arg=${arg//$ROOT\//}
    if [[ $arg =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then
      shown+=" $arg"
    elif [[ $arg == *'$'* ]]; then
      shown+=" \"${arg//\"/\\\"}\""
    else
      shown+=" '$arg'"
    fi
  done
  printf '\n$ %s\n' "$shown"
  local status
  status=$(curl -sS --noproxy '*' -o "$TMP/$name.json" -w '%{http_code}' "$@")
  printf '%s %s\n' "$status" "$(head -c 300 "$TMP/$name.json")"
  case " $expected " in
    *" $status "*) ;;
    *) printf 'walkthrough: expected HTTP %s, got %s\n' "$expected" "$status" >&2; exit 1 ;;
  esac
}

# field NAME EXPR: a value of a step's JSON body, e.g. field signup_a '["access"]'
field() {
  python3 -c 'import json, sys; print(eval("json.load(open(sys.argv[1]))" + sys.argv[2]))' \
    "$TMP/$1.json" "$2"
}

# must CONDITION MESSAGE: a Python condition over `d` (the last step's body)
must() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$TMP/$1.json" "$2" || { printf 'walkthrough: %s\n' "$3" >&2; exit 1; }
}

RUN=$(date +%s)$$
echo "== Matching: sign up, settings, random, decision"
step "200 201" signup_a -X POST "$BASE/api/auth/signup/" \
  -F "username=alice_$RUN" -F password=correct-horse -F age=25 -F gender=female
A=$(field signup_a '["access"]')
A_ID=$(field signup_a '["user_id"]')
step "200 201" signup_b -X POST "$BASE/api/auth/signup/" \
  -F "username=bob_$RUN" -F password=correct-horse -F age=30 -F gender=male
B=$(field signup_b '["access"]')

step 200 settings_a -X POST "$BASE/api/match/settings/" -H "Authorization: Bearer $A" \
  -H 'Content-Type: application/json' -d '{"preferred_gender":"all","age_range":[18,40],"radius_km":null}'
step 200 settings_b -X POST "$BASE/api/match/settings/" -H "Authorization: Bearer $B" \
  -H 'Content-Type: application/json' -d '{"preferred_gender":"all","age_range":[18,40],"radius_km":null}'

# nobody waits yet: A joins the pool and gets 202 {"status":"waiting"}
step 202 random_a "$BASE/api/match/random/?wait=0" -H "Authorization: Bearer $A"
must random_a 'd["status"] == "waiting"' 'A should be waiting'
# B is paired with A at once: 200 with match_found, match_id and matched_user
step 200 random_b "$BASE/api/match/random/?wait=5" -H "Authorization: Bearer $B"
must random_b "d['type'] == 'match_found' and d['matched_user']['id'] == $A_ID" \
  'B should be matched with A (is another user waiting on this server?)'
MATCH=$(field random_b '["match_id"]')

# a decision waits for the partner's: both accept at the same time
step 200 decision_a -X POST "$BASE/api/match/decision/" -H "Authorization: Bearer $A" \
  -H 'Content-Type: application/json' -d "{\"match_id\":$MATCH,\"decision\":\"accept\"}" &
DA=$!
step 200 decision_b -X POST "$BASE/api/match/decision/" -H "Authorization: Bearer $B" \
  -H 'Content-Type: application/json' -d "{\"match_id\":$MATCH,\"decision\":\"accept\"}" &
DB=$!
failed=0
wait "$DA" || failed=1
wait "$DB" || failed=1
[ "$failed" = 0 ] || { echo 'walkthrough: a decision failed' >&2; exit 1; }
must decision_a 'd["status"] == "matched"' 'A should see "matched"'
must decision_b 'd["status"] == "matched"' 'B should see "matched"'

echo
echo "== Call: start, status, end, rate, history"
step 200 call_start -X POST "$BASE/api/call/start/" -H "Authorization: Bearer $A" \
  -H 'Content-Type: application/json' -d "{\"match_id\":$MATCH}"
SESSION=$(field call_start '["call_session_id"]')
# (the call's audio is WebRTC; its signaling goes over the WebSocket /ws)
step 200 status_b "$BASE/api/match/status/" -H "Authorization: Bearer $B"
step 200 call_end -X POST "$BASE/api/call/end/" -H "Authorization: Bearer $B" \
  -H 'Content-Type: application/json' -d "{\"call_session_id\":\"$SESSION\"}"
step 200 recent_a "$BASE/api/history/recent/" -H "Authorization: Bearer $A"
must recent_a 'len(d) >= 1' 'the call should be in the history'
CALL=$(field recent_a '[0]["call_id"]')
step "200 201" rate_a -X POST "$BASE/api/history/rate/" -H "Authorization: Bearer $A" \
  -H 'Content-Type: application/json' -d "{\"call_id\":$CALL,\"rating\":5,\"comment\":\"nice talk\"}"

echo
echo "== Talk: broadcast, list, reply, conversations, message"
step "200 201" broadcast_a -X POST "$BASE/api/broadcasts" -H "Authorization: Bearer $A" \
  -F "voice_file=@$VOICE"
BROADCAST=$(field broadcast_a '["broadcast"]["id"]')
step 200 broadcasts_b "$BASE/api/broadcasts" -H "Authorization: Bearer $B"
must broadcasts_b "any(b['id'] == $BROADCAST for b in d)" "B should see A's broadcast"
step "200 201" reply_b -X POST "$BASE/api/broadcasts/$BROADCAST/reply" -H "Authorization: Bearer $B" \
  -F "voice_file=@$VOICE"
CONVERSATION=$(field reply_b '["conversation_id"]')
step 200 conversations_a "$BASE/api/conversations" -H "Authorization: Bearer $A"
must conversations_a "any(c['id'] == $CONVERSATION for c in d)" 'A should see the conversation'
step "200 201" message_a -X POST "$BASE/api/conversations/$CONVERSATION/send_message" \
  -H "Authorization: Bearer $A" -F "voice_file=@$VOICE"

echo
echo "walkthrough: every step answered as expected"
