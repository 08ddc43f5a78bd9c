// voxmatch demo client: plain JavaScript (ES2020), no build step, no CDN.
// Auto mode for tests: /demo/?auto=1&username=U&password=P&age=A&gender=G&preferred_gender=all
// signs up (or logs in), matches, accepts, starts the call and sets document.title to
// `voxmatch: connected` once audio arrives (`voxmatch: error <why>` on failure). It uses
// host ICE candidates only (both pages on one machine); add &ice=api for the API's servers.
'use strict';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const AUTO = params.get('auto') === '1';
const AUTO_TIMEOUT_MS = 55000;

const S = {
  token: null, refresh: null, me: null, // me: {id, username}
  ws: null, lastEventId: null, pinger: null,
  searching: false, round: 0, match: null, // match: the match_found body
  call: null, // {id, matchId, partner, pc, stream, chain, pending, started}
  early: [], // signals that arrived before their call was set up
  clip: null, recorder: null, conversation: null,
};

// ---- small helpers ----------------------------------------------------------

function log(...parts) {
  const line = parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ');
  console.log('[voxmatch] ' + line);
  const el = $('log');
  el.textContent = `${new Date().toLocaleTimeString()} ${line}\n` + el.textContent.slice(0, 20000);
}

function status(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
  if (error) log('error: ' + text);
}

function fail(why) {
  status(why, true);
  if (AUTO) document.title = 'voxmatch: error ' + why;
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class ApiError extends Error {
  constructor(status, body) {
    const text = body && typeof body === 'object'
      ? [body.error, body.details].filter(Boolean).join(': ')
      : String(body);
    super(`${status} ${text}`);
    this.status = status;
    this.body = body;
  }
}

// Calls the API: JSON bodies, or FormData as multipart. Resolves {status, data};
// throws ApiError for 4xx/5xx (after one token refresh on 401).
async function api(method, path, body, retry = true) {
  const headers = { 'Accept-Language': 'en' };
  if (S.token) headers.Authorization = 'Bearer ' + S.token;
  const init = { method, headers };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = text;
  try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
  if (res.status === 401 && retry && S.refresh && await refreshToken()) {
    return api(method, path, body, false);
  }
  if (res.status >= 400) throw new ApiError(res.status, data);
  return { status: res.status, data };
}

async function refreshToken() {
  try {
    const r = await api('POST', '/api/auth/refresh/', { refresh: S.refresh }, false);
    S.token = r.data.access;
    S.refresh = r.data.refresh;
    save();
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify({ type: 'auth', token: S.token }));
    return true;
  } catch (e) {
    log('refresh failed: ' + e.message);
    return false;
  }
}

// A voice_url (maybe absolute, for another host name) as a path on this server.
function voiceSrc(url) {
  return new URL(url, location.href).pathname + '?token=' + encodeURIComponent(S.token);
}

// ---- account ----------------------------------------------------------------

function save() {
  if (AUTO) return;
  if (S.me) sessionStorage.setItem('voxmatch', JSON.stringify({ token: S.token, refresh: S.refresh, me: S.me }));
  else sessionStorage.removeItem('voxmatch');
}

async function signup(username, password, age, gender) {
  const form = new FormData();
  form.set('username', username);
  form.set('password', password);
  form.set('age', age);
  form.set('gender', gender);
  const r = await api('POST', '/api/auth/signup/', form);
  return { id: r.data.user_id, username, access: r.data.access, refresh: r.data.refresh };
}

async function login(username, password) {
  const r = await api('POST', '/api/auth/login/', { username, password });
  return { id: r.data.user.id, username: r.data.user.username, access: r.data.access, refresh: r.data.refresh };
}

async function signedIn(account) {
  S.token = account.access;
  S.refresh = account.refresh;
  S.me = { id: account.id, username: account.username };
  save();
  document.body.classList.add('signed-in');
  $('who').textContent = `${S.me.username} (#${S.me.id})`;
  log(`signed in as ${S.me.username} #${S.me.id}`);
  await openSocket();
  if (!AUTO) loadEverything();
}

function loadEverything() {
  loadSettings().catch((e) => status('filters: ' + e.message, true));
  loadHistory();
  loadBroadcasts();
  loadConversations();
}

async function logout() {
  stopMatching();
  if (S.call) await endCall().catch(() => {});
  try { await api('POST', '/api/auth/logout/', { refresh: S.refresh }, false); } catch (_) { /* gone anyway */ }
  S.token = S.refresh = S.me = null;
  save();
  if (S.ws) { const ws = S.ws; S.ws = null; ws.close(); }
  document.body.classList.remove('signed-in');
  $('who').textContent = 'not signed in';
  status('Logged out.');
}

// ---- filters ----------------------------------------------------------------

async function loadSettings() {
  const s = (await api('GET', '/api/match/settings/')).data;
  const f = $('filters-form');
  f.preferred_gender.value = s.preferred_gender;
  f.age_min.value = s.age_range[0];
  f.age_max.value = s.age_range[1];
  f.languages.value = (s.languages || []).join(', ');
  f.interests.value = (s.interests || []).join(', ');
  f.relax.checked = !!s.relax;
}

const words = (text) => text.split(',').map((w) => w.trim()).filter(Boolean);

async function saveSettings(settings) {
  await api('POST', '/api/match/settings/', settings);
  log('filters saved', settings);
}

// ---- realtime ---------------------------------------------------------------

function openSocket() {
  return new Promise((resolve, reject) => {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    let url = `${scheme}${location.host}/ws?token=${encodeURIComponent(S.token)}`;
    if (S.lastEventId) url += '&last_event_id=' + encodeURIComponent(S.lastEventId);
    const ws = new WebSocket(url);
    let opened = false;
    S.ws = ws;
    ws.onopen = () => {
      opened = true;
      log('websocket open');
      clearInterval(S.pinger);
      S.pinger = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"ping"}'), 20000);
      resolve();
    };
    ws.onmessage = (e) => {
      let event;
      try { event = JSON.parse(e.data); } catch (_) { return; }
      if (event.event_id) S.lastEventId = event.event_id;
      onEvent(event);
    };
    ws.onclose = (e) => {
      if (!opened) reject(new Error('websocket refused'));
      if (S.ws !== ws || !S.me) return;
      log(`websocket closed (${e.code}), reconnecting`);
      setTimeout(async () => {
        if (S.ws !== ws || !S.me) return;
        if (e.code === 4001) await refreshToken();
        openSocket().catch((err) => log(err.message));
      }, 2000);
    };
  });
}

function onEvent(ev) {
  if (ev.type !== 'signal' && ev.type !== 'pong') log('event ' + ev.type, ev);
  switch (ev.type) {
    case 'match_found': return showMatch(ev);
    case 'match_decided':
      if (S.match && S.match.match_id === ev.match_id && ev.status !== 'matched') return matchOver();
      return undefined;
    case 'call_started':
      if (S.match && S.match.match_id === ev.match_id) joinCall(ev.call_session_id, ev.match_id);
      return undefined;
    case 'call_ended':
      if (S.call && S.call.id === ev.call_session_id) callOver(ev.call_id, ev.duration_sec);
      return undefined;
    case 'signal': return onSignal(ev);
    case 'new_message':
    case 'broadcast_reply':
      loadConversations();
      if (S.conversation === ev.conversation_id) openConversation(ev.conversation_id);
      return status(ev.type === 'new_message' ? 'New voice message.' : 'New reply to your broadcast.');
    case 'error': return log('server says: ' + (ev.error || JSON.stringify(ev)));
    default: return undefined;
  }
}

// ---- matching ---------------------------------------------------------------

function showQueue(body) {
  const q = [`Waiting for someone${body && body.waited_sec != null ? ` (${body.waited_sec} s)` : ''}.`];
  if (body && body.waiting != null) q.push(`${body.waiting} waiting here.`);
  if (body && body.estimated_wait_sec != null) q.push(`Usual wait ${body.estimated_wait_sec} s.`);
  if (body && body.age_range) q.push(`Ages ${body.age_range[0]}–${body.age_range[1]}.`);
  $('queue').textContent = q.join(' ');
}

async function findMatch() {
  if (S.searching) return;
  S.searching = true;
  const round = ++S.round; // a stale loop (its poll still out) stops by itself
  $('card').hidden = true;
  showQueue(null);
  while (S.searching && round === S.round && !S.match && !S.call) {
    try {
      const r = await api('GET', `/api/match/random/?wait=${AUTO ? 10 : 25}`);
      if (r.status === 200) showMatch(r.data);
      else if (round === S.round && !S.match) showQueue(r.data);
    } catch (e) {
      S.searching = false;
      $('queue').textContent = 'Stopped.';
      return fail('matching: ' + e.message);
    }
  }
}

function stopMatching() {
  S.searching = false;
  if (S.me) api('POST', '/api/match/cancel/').catch(() => {});
  $('queue').textContent = 'Idle.';
}

function showMatch(m) {
  if (S.call || (S.match && S.match.match_id === m.match_id)) return;
  S.match = m;
  const u = m.matched_user || {};
  $('card-name').textContent = u.username || `user #${u.id}`;
  const shared = (u.shared_interests || []).length ? `shares ${u.shared_interests.join(', ')}` : '';
  $('card-info').textContent = [u.age, u.gender, u.rating != null ? `★ ${Number(u.rating).toFixed(1)}` : '', shared]
    .filter((x) => x !== undefined && x !== '').join(' · ');
  $('card').hidden = false;
  $('accept').disabled = $('reject').disabled = false;
  $('queue').textContent = 'Someone found!';
  const deadline = Date.now() + m.show_time_sec * 1000;
  clearInterval(S.countdown);
  const tick = () => {
    $('card-left').textContent = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  };
  tick();
  S.countdown = setInterval(tick, 250);
  if (AUTO) decide('accept');
}

async function decide(decision) {
  const m = S.match;
  if (!m) return;
  $('accept').disabled = $('reject').disabled = true;
  $('queue').textContent = decision === 'accept' ? 'Waiting for their answer…' : 'Skipped.';
  try {
    const r = await api('POST', '/api/match/decision/', { match_id: m.match_id, decision });
    log('decision', r.data);
    if (S.match !== m) return;
    if (r.data.status === 'matched') matched();
    else matchOver();
  } catch (e) {
    fail('decision: ' + e.message);
    matchOver();
  }
}

function matched() {
  clearInterval(S.countdown);
  S.searching = false;
  $('card').hidden = true;
  $('queue').textContent = 'Matched!';
  showCall();
  if (S.call) return; // the partner started it already
  setCallState('not started');
  $('start-call').disabled = false;
  if (AUTO) startCall();
}

function showCall() {
  const u = S.match.matched_user;
  $('call').hidden = false;
  $('call-with').textContent = u.username;
  $('call-info').textContent = [u.age, u.gender].filter(Boolean).join(' · ');
}

// The match ended without a call (rejected, timed out): search again if asked to.
function matchOver() {
  clearInterval(S.countdown);
  S.match = null;
  $('card').hidden = true;
  $('call').hidden = true;
  const again = S.searching;
  S.searching = false;
  if (again || AUTO) findMatch();
  else $('queue').textContent = 'Idle.';
}

// ---- calls ------------------------------------------------------------------

function setCallState(text) {
  $('call-state').textContent = text;
  $('call-state').classList.toggle('connected', text === 'connected');
}

async function startCall() {
  if (!S.match) return;
  $('start-call').disabled = true;
  try {
    const r = await api('POST', '/api/call/start/', { match_id: S.match.match_id });
    joinCall(r.data.call_session_id, S.match.match_id);
  } catch (e) {
    $('start-call').disabled = false;
    fail('call start: ' + e.message);
  }
}

// Both sides of a match may start the call: the second gets the same session,
// and the partner hears of it by `call_started`; either way we join once.
function joinCall(id, matchId) {
  if (S.call) return;
  const partner = S.match.matched_user;
  const call = { id, matchId, partner, pending: [], started: Date.now(), pc: null, stream: null };
  S.call = call;
  showCall();
  setCallState('starting');
  $('start-call').disabled = true;
  $('end-call').disabled = false;
  log(`call ${id} with #${partner.id}`);
  call.chain = setupPeer(call).catch((e) => fail('webrtc: ' + e.message));
  const early = S.early.filter((s) => s.call_session_id === id);
  S.early = S.early.filter((s) => s.call_session_id !== id);
  early.forEach(onSignal);
  call.timer = setInterval(() => {
    const sec = Math.round((Date.now() - call.started) / 1000);
    $('call-time').textContent = `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, '0')}`;
  }, 1000);
}

function sendSignal(call, payload) {
  if (S.ws && S.ws.readyState === WebSocket.OPEN && S.call === call) {
    S.ws.send(JSON.stringify({ type: 'signal', call_session_id: call.id, payload }));
  }
}

async function setupPeer(call) {
  let iceServers = [];
  try {
    iceServers = (await api('GET', '/api/call/ice-servers/')).data.ice_servers;
  } catch (e) {
    log('no ICE servers: ' + e.message);
  }
  // offline tests: both pages on one machine, host candidates are enough
  if (AUTO && params.get('ice') !== 'api') iceServers = [];
  const pc = new RTCPeerConnection({ iceServers });
  call.pc = pc;
  pc.onicecandidate = (e) => e.candidate && sendSignal(call, { candidate: e.candidate.toJSON() });
  pc.ontrack = (e) => {
    const audio = $('remote');
    audio.srcObject = e.streams[0] || new MediaStream([e.track]);
    audio.play().catch((err) => log('autoplay: ' + err.message));
  };
  pc.onconnectionstatechange = () => {
    log('connection ' + pc.connectionState);
    if (S.call !== call) return;
    setCallState(pc.connectionState);
    if (pc.connectionState === 'failed') fail('webrtc connection failed');
  };
  call.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  if (S.call !== call) return hangUpMedia(call);
  call.stream.getTracks().forEach((t) => pc.addTrack(t, call.stream));
  setCallState('connecting');
  if (S.me.id < call.partner.id) {
    await pc.setLocalDescription(await pc.createOffer());
    sendSignal(call, { description: pc.localDescription.toJSON() });
    log('offer sent');
  }
  if (AUTO) watchConnected(call);
  return undefined;
}

// Signals are handled in order, after the peer connection exists.
function onSignal(ev) {
  const call = S.call;
  if (!call || call.id !== ev.call_session_id) {
    S.early.push(ev);
    return;
  }
  call.chain = call.chain.then(() => handleSignal(call, ev.payload || {}))
    .catch((e) => fail('signal: ' + e.message));
}

async function handleSignal(call, payload) {
  const pc = call.pc;
  if (!pc || S.call !== call) return;
  if (payload.description) {
    await pc.setRemoteDescription(payload.description);
    if (payload.description.type === 'offer') {
      await pc.setLocalDescription(await pc.createAnswer());
      sendSignal(call, { description: pc.localDescription.toJSON() });
      log('answer sent');
    }
    for (const c of call.pending.splice(0)) await pc.addIceCandidate(c);
  } else if (payload.candidate) {
    if (pc.remoteDescription) await pc.addIceCandidate(payload.candidate);
    else call.pending.push(payload.candidate);
  }
}

// Auto mode: connected, and audio packets coming in.
function watchConnected(call) {
  const poll = setInterval(async () => {
    if (S.call !== call) return clearInterval(poll);
    if (call.pc.connectionState !== 'connected') return undefined;
    const stats = await call.pc.getStats();
    let packets = 0;
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') packets += r.packetsReceived || 0;
    });
    if (packets > 0) {
      clearInterval(poll);
      log(`audio flowing: ${packets} packets received`);
      status('Connected: you are talking.');
      document.title = 'voxmatch: connected';
    }
    return undefined;
  }, 300);
}

function hangUpMedia(call) {
  clearInterval(call.timer);
  if (call.stream) call.stream.getTracks().forEach((t) => t.stop());
  if (call.pc) call.pc.close();
  $('remote').srcObject = null;
}

async function endCall() {
  const call = S.call;
  if (!call) return;
  $('end-call').disabled = true;
  try {
    const r = await api('POST', '/api/call/end/', { call_session_id: call.id });
    callOver(r.data.call_id, r.data.duration_sec);
  } catch (e) {
    $('end-call').disabled = false;
    status('end call: ' + e.message, true);
  }
}

function callOver(callId, duration) {
  if (!S.call) return;
  hangUpMedia(S.call);
  S.call = null;
  S.match = null;
  $('call').hidden = true;
  $('queue').textContent = `Call ended after ${duration} s.`;
  status('Call ended. How was it?');
  showRate(callId);
  loadHistory();
}

// ---- rating and history -----------------------------------------------------

function showRate(callId) {
  $('rate').hidden = false;
  $('rate-form').call_id.value = callId;
  $('rate-form').comment.value = '';
}

async function rate(form) {
  const body = { call_id: Number(form.call_id.value), rating: Number(form.rating.value), comment: form.comment.value };
  await api('POST', '/api/history/rate/', body);
  $('rate').hidden = true;
  status('Thanks for rating.');
}

async function loadHistory() {
  const list = $('history-list');
  try {
    const calls = (await api('GET', '/api/history/recent/?limit=20')).data;
    list.replaceChildren(...calls.map((c) => el('li', {},
      el('span', {}, c.username, ' ', el('span', { className: 'meta' },
        `${new Date(c.call_time).toLocaleString()} · ${c.duration_sec} s`)),
      el('button', { className: 'link', textContent: 'rate', onclick: () => showRate(c.call_id) }))));
    if (!calls.length) list.replaceChildren(el('li', { className: 'empty', textContent: 'No calls yet.' }));
  } catch (e) {
    status('history: ' + e.message, true);
  }
}

// ---- talk: voice clips, broadcasts, conversations ---------------------------

async function toggleRecording() {
  if (S.recorder) { S.recorder.stop(); return; }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const type = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4']
    .find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));
  const rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const chunks = [];
  rec.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  rec.onstop = () => {
    clearTimeout(S.recordLimit);
    stream.getTracks().forEach((t) => t.stop());
    S.recorder = null;
    S.clip = new Blob(chunks, { type: rec.mimeType || 'audio/webm' });
    $('clip').src = URL.createObjectURL(S.clip);
    $('clip').hidden = false;
    $('record').textContent = 'Record';
    $('record').classList.remove('recording');
    $('post-broadcast').disabled = false;
    $('send-message').disabled = !S.conversation;
    log(`recorded ${S.clip.size} bytes`);
  };
  rec.start();
  S.recorder = rec;
  S.recordLimit = setTimeout(() => rec.state === 'recording' && rec.stop(), 59000);
  $('record').textContent = 'Stop';
  $('record').classList.add('recording');
}

function clipForm() {
  if (!S.clip) throw new Error('record a clip first');
  const form = new FormData();
  const ext = S.clip.type.includes('ogg') ? 'ogg' : S.clip.type.includes('mp4') ? 'm4a' : 'webm';
  form.set('voice_file', S.clip, 'clip.' + ext);
  return form;
}

const player = (url) => el('audio', { controls: true, preload: 'none', src: voiceSrc(url) });
const secs = (ms) => (ms != null ? `${(ms / 1000).toFixed(1)} s` : '');

async function loadBroadcasts() {
  const list = $('broadcasts');
  try {
    const items = (await api('GET', '/api/broadcasts?limit=20')).data;
    list.replaceChildren(...items.map((b) => el('li', {},
      el('span', {}, b.user.nickname, ' ', el('span', { className: 'meta' }, secs(b.duration_ms))),
      player(b.voice_url),
      el('button', { className: 'link', textContent: 'reply with clip', onclick: () => act(() => reply(b.id)) }))));
    if (!items.length) list.replaceChildren(el('li', { className: 'empty', textContent: 'No live broadcasts.' }));
  } catch (e) {
    status('broadcasts: ' + e.message, true);
  }
}

async function reply(broadcastId) {
  const r = await api('POST', `/api/broadcasts/${broadcastId}/reply`, clipForm());
  status('Reply sent.');
  await loadConversations();
  openConversation(r.data.conversation_id);
}

async function loadConversations() {
  const list = $('conversations');
  try {
    const items = (await api('GET', '/api/conversations?limit=20')).data;
    list.replaceChildren(...items.map((c) => {
      const other = c.user_a.id === S.me.id ? c.user_b : c.user_a;
      return el('li', {},
        el('span', {}, other.nickname, ' ', el('span', { className: 'meta' }, c.unread_count ? `${c.unread_count} new` : '')),
        el('button', { className: 'link', textContent: 'open', onclick: () => openConversation(c.id, other.nickname) }));
    }));
    if (!items.length) list.replaceChildren(el('li', { className: 'empty', textContent: 'Reply to a broadcast to start one.' }));
  } catch (e) {
    status('conversations: ' + e.message, true);
  }
}

async function openConversation(id, name) {
  try {
    const d = (await api('GET', `/api/conversations/${id}?limit=30`)).data;
    S.conversation = id;
    if (name) $('conversation-with').textContent = name;
    $('conversation').hidden = false;
    $('send-message').disabled = !S.clip;
    $('messages').replaceChildren(...d.messages.map((m) => el('li', {},
      el('span', {}, m.sender_id === S.me.id ? 'me' : m.sender.nickname, ' ',
        el('span', { className: 'meta' }, `${new Date(m.created_at).toLocaleTimeString()} ${secs(m.duration_ms)}`)),
      player(m.voice_url))));
    loadConversations(); // opening marked them read
  } catch (e) {
    status('conversation: ' + e.message, true);
  }
}

// Runs a user action, showing its error.
async function act(fn) {
  try { await fn(); } catch (e) { status(e.message, true); }
}

// ---- wiring -----------------------------------------------------------------

function wire() {
  $('auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = e.target;
    const action = e.submitter ? e.submitter.value : 'login';
    act(async () => {
      const account = action === 'signup'
        ? await signup(f.username.value.trim(), f.password.value, f.age.value, f.gender.value)
        : await login(f.username.value.trim(), f.password.value);
      await signedIn(account);
      status(action === 'signup' ? 'Welcome!' : 'Welcome back!');
    });
  });
  $('logout').onclick = () => act(logout);
  $('filters-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = e.target;
    act(async () => {
      await saveSettings({
        preferred_gender: f.preferred_gender.value,
        age_range: [Number(f.age_min.value), Number(f.age_max.value)],
        languages: words(f.languages.value),
        interests: words(f.interests.value),
        relax: f.relax.checked,
      });
      status('Filters saved.');
    });
  });
  $('find').onclick = () => findMatch();
  $('cancel').onclick = () => stopMatching();
  $('accept').onclick = () => decide('accept');
  $('reject').onclick = () => decide('reject');
  $('start-call').onclick = () => startCall();
  $('end-call').onclick = () => endCall();
  $('rate-form').addEventListener('submit', (e) => {
    e.preventDefault();
    act(() => rate(e.target));
  });
  $('history-reload').onclick = () => loadHistory();
  $('record').onclick = () => act(toggleRecording);
  $('post-broadcast').onclick = () => act(async () => {
    await api('POST', '/api/broadcasts', clipForm());
    status('Broadcast posted.');
    loadBroadcasts();
  });
  $('broadcasts-reload').onclick = () => loadBroadcasts();
  $('conversations-reload').onclick = () => loadConversations();
  $('send-message').onclick = () => act(async () => {
    await api('POST', `/api/conversations/${S.conversation}/send_message`, clipForm());
    status('Message sent.');
    openConversation(S.conversation);
  });
}

async function auto() {
  document.title = 'voxmatch: starting';
  const timeout = setTimeout(() => {
    if (!document.title.endsWith('connected')) fail(`timeout (${$('call-state').textContent})`);
  }, AUTO_TIMEOUT_MS);
  try {
    const u = params.get('username');
    const p = params.get('password');
    let account;
    try {
      account = await signup(u, p, params.get('age') || '25', params.get('gender') || 'male');
    } catch (e) {
      if (e.status !== 409) throw e;
      account = await login(u, p);
    }
    await signedIn(account);
    await saveSettings({ preferred_gender: params.get('preferred_gender') || 'all' });
    document.title = 'voxmatch: matching';
    findMatch();
    loadEverything();
  } catch (e) {
    clearTimeout(timeout);
    fail(e.message);
  }
}

async function resume() {
  const saved = JSON.parse(sessionStorage.getItem('voxmatch') || 'null');
  if (!saved) return;
  try {
    S.refresh = saved.refresh; // the access token may have expired meanwhile
    if (!await refreshToken()) throw new Error('session expired');
    await signedIn({ id: saved.me.id, username: saved.me.username, access: S.token, refresh: S.refresh });
  } catch (e) {
    S.token = S.refresh = null;
    S.me = null;
    save();
    document.body.classList.remove('signed-in');
  }
}

wire();
if (AUTO) auto();
else resume();
