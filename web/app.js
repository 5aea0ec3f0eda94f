// The rolloutd dashboard: one page, no framework, no build step. It talks to
// the daemon only through /ui/session, /ui/signin, /ui/signout, /ui/agents,
// /ui/wait (held until a deployment changes: live updates without polling) and
// POST /ui/api/<service>.<Operation>, the control API run as the signed-in key.
// Everything shown is put in with textContent (never innerHTML).
'use strict';

const CD = 'CodeDeploy_20141006.';
const RD = 'Rolloutd_v1.';
const POLL_MS = 1000; // live hook output of a selected running event is read this often
const WAIT_MS = 25000; // the longest a /ui/wait is held when nothing changes
const ACTIVE = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'];
const FINAL_TARGET = ['Succeeded', 'Failed', 'Skipped', 'Unknown'];
const STATUSES = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready', 'Succeeded', 'Failed', 'Stopped'];
const ROW_H = 30;

const S = { session: null, timer: null, gen: 0, waiting: null };

// ---- helpers ----

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const $ = (id) => document.getElementById(id);

function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t * 1000);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

function fmtDur(s) {
  if (s === undefined || s === null || isNaN(s)) return '';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function badge(status) {
  return h('span', { class: `badge s-${status || 'none'}`, text: status || '—' });
}

function toast(msg) {
  const t = $('status');
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 6000);
}

class ApiError extends Error {
  constructor(type, message, status) {
    super(message || type);
    this.type = type;
    this.status = status;
  }
}

async function post(path, body, signal) {
  const headers = { 'Content-Type': 'application/json' };
  if (S.session) headers['X-Rolloutd-CSRF'] = S.session.csrfToken;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}), credentials: 'same-origin', cache: 'no-store', signal });
  const j = await r.json().catch(() => ({}));
  if (r.status === 401 && path !== '/ui/signin') {
    S.session = null;
    showSignIn();
  }
  if (!r.ok) throw new ApiError(j.__type || `HTTP ${r.status}`, j.message, r.status);
  return j;
}

const api = (op, body) => post(`/ui/api/${op}`, body);
const cd = (op, body) => api(CD + op, body);

// All pages of a List operation: key is the list member.
async function listAll(op, body, key, max) {
  let out = [], token;
  do {
    const r = await cd(op, Object.assign({}, body, token ? { nextToken: token } : {}));
    out = out.concat(r[key] || []);
    token = r.nextToken;
  } while (token && (!max || out.length < max));
  return out;
}

// A BatchGet over ids in chunks of 25, a few at a time.
async function batchGet(op, idKey, ids, outKey, extra, onChunk) {
  const chunks = [];
  for (let i = 0; i < ids.length; i += 25) chunks.push(ids.slice(i, i + 25));
  const out = new Array(chunks.length);
  let next = 0;
  async function worker() {
    while (next < chunks.length) {
      const i = next++;
      const r = await cd(op, Object.assign({ [idKey]: chunks[i] }, extra || {}));
      out[i] = r[outKey] || [];
      if (onChunk) onChunk(out[i], i);
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
  return out.flat();
}

function confirmAction(title, text, okLabel, extra) {
  const dlg = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  const ex = $('confirm-extra');
  ex.replaceChildren(...(extra ? [extra] : []));
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    $('confirm-cancel').focus();
  });
}

function stopPolling() {
  S.gen++;
  clearTimeout(S.timer);
  S.timer = null;
  // a held /ui/wait would keep one of the browser's few connections busy
  if (S.waiting) S.waiting.abort();
  S.waiting = null;
}

// Resolves with the deployment's change counter once it differs from seq
// (the daemon holds the request until the engine commits a change of it),
// or at timeoutMs with seq unchanged.
async function waitForChange(id, seq, timeoutMs) {
  const ctl = new AbortController();
  S.waiting = ctl;
  try {
    return (await post('/ui/wait', { deploymentId: id, seq, timeoutMs }, ctl.signal)).seq;
  } finally {
    if (S.waiting === ctl) S.waiting = null;
  }
}

// ---- sign-in ----

function showSignIn() {
  stopPolling();
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
  $('page').replaceChildren();
  $('signin').hidden = false;
  $('key-id').focus();
}

function signedIn(sess) {
  S.session = sess;
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('signout').hidden = false;
  $('who').textContent = `${sess.name || sess.accessKeyId} (${sess.policy})`;
  route();
}

async function start() {
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = $('key-id'), secret = $('key-secret');
    $('signin-error').textContent = '';
    try {
      const sess = await post('/ui/signin', { accessKeyId: id.value.trim(), secretAccessKey: secret.value });
      secret.value = '';
      signedIn(sess);
    } catch (e) {
      secret.value = '';
      $('signin-error').textContent = e.message;
    }
  });
  $('signout').addEventListener('click', async () => {
    try { await post('/ui/signout'); } catch (e) { /* signed out either way */ }
    S.session = null;
    showSignIn();
  });
  window.addEventListener('hashchange', route);
  const r = await fetch('/ui/session', { credentials: 'same-origin', cache: 'no-store' });
  if (r.ok) signedIn(await r.json());
  else showSignIn();
}

// ---- routing ----

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/deployments';
  const [path, q] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), q: new URLSearchParams(q || '') };
}

function route() {
  if (!S.session) return;
  stopPolling();
  const { parts, q } = parseHash();
  for (const a of document.querySelectorAll('#nav a'))
    a.toggleAttribute('aria-current', a.getAttribute('href') === `#/${parts[0]}`) && a.setAttribute('aria-current', 'page');
  const page = $('page');
  delete page.dataset.rendered;
  delete page.dataset.headRendered;
  delete page.dataset.firstRows;
  page.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
  const gen = S.gen;
  let p;
  if (parts[0] === 'apps') p = pageApps(page, gen);
  else if (parts[0] === 'deployment' && parts[1]) p = pageDeployment(page, parts[1], gen);
  else if (parts[0] === 'instances') p = pageInstances(page, gen);
  else p = pageDeployments(page, q, gen);
  p.catch((e) => {
    if (gen !== S.gen) return;
    page.replaceChildren(h('p', { class: 'error', role: 'alert', text: `${e.type || 'Error'}: ${e.message}` }));
  });
}

// ---- applications and groups ----

function targetSelection(g) {
  const parts = [];
  const tags = (list) => list.map((t) => `${t.Key || ''}${t.Value ? '=' + t.Value : ''}`).join(' or ');
  if ((g.onPremisesInstanceTagFilters || []).length) parts.push(`on-prem tags ${tags(g.onPremisesInstanceTagFilters)}`);
  for (const set of (g.onPremisesTagSet && g.onPremisesTagSet.onPremisesTagSetList) || []) parts.push(`tag set (${tags(set)})`);
  if ((g.ec2TagFilters || []).length) parts.push(`EC2 tags ${tags(g.ec2TagFilters)}`);
  if ((g.autoScalingGroups || []).length) parts.push(`ASG ${g.autoScalingGroups.map((a) => a.name).join(', ')}`);
  for (const s of g.ecsServices || []) parts.push(`ECS ${s.clusterName}/${s.serviceName}`);
  return parts.join('; ') || '—';
}

async function pageApps(page, gen) {
  const names = await listAll('ListApplications', {}, 'applications');
  const apps = names.length ? (await batchGet('BatchGetApplications', 'applicationNames', names, 'applicationsInfo')) : [];
  if (gen !== S.gen) return;
  const body = [h('h1', { text: 'Applications' })];
  if (!apps.length) body.push(h('p', { class: 'muted', text: 'No applications yet.' }));
  page.replaceChildren(...body);
  for (const a of apps) {
    const sec = h('section', { 'aria-labelledby': `app-${a.applicationName}` },
      h('h2', { id: `app-${a.applicationName}` }, a.applicationName, ' ', h('span', { class: 'muted', text: `(${a.computePlatform})` }), ' ',
        h('a', { href: `#/deployments?app=${encodeURIComponent(a.applicationName)}`, text: 'deployments' })));
    page.append(sec);
    const gnames = await listAll('ListDeploymentGroups', { applicationName: a.applicationName }, 'deploymentGroups');
    if (gen !== S.gen) return;
    if (!gnames.length) { sec.append(h('p', { class: 'muted', text: 'No deployment groups.' })); continue; }
    const groups = await batchGet('BatchGetDeploymentGroups', 'deploymentGroupNames', gnames, 'deploymentGroupsInfo', { applicationName: a.applicationName });
    if (gen !== S.gen) return;
    const rows = groups.map((g) => {
      const last = g.lastSuccessfulDeployment;
      const style = g.deploymentStyle ? `${g.deploymentStyle.deploymentType || ''} ${g.deploymentStyle.deploymentOption || ''}`.trim() : '';
      return h('tr', {},
        h('td', {}, h('a', { href: `#/deployments?app=${encodeURIComponent(a.applicationName)}&group=${encodeURIComponent(g.deploymentGroupName)}`, text: g.deploymentGroupName })),
        h('td', { text: g.deploymentConfigName || '' }),
        h('td', { text: `${g.computePlatform || a.computePlatform}${style ? ' · ' + style : ''}` }),
        h('td', { text: targetSelection(g) }),
        h('td', {}, last && last.deploymentId ? [h('a', { href: `#/deployment/${last.deploymentId}`, text: last.deploymentId }), ' ', h('span', { class: 'muted', text: fmtTime(last.endTime) })] : '—'),
        h('td', { text: revisionText(g.targetRevision) }));
    });
    sec.append(h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Group', 'Config', 'Platform', 'Targets', 'Last successful', 'Target revision'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows))));
  }
}

function revisionText(r) {
  if (!r) return '—';
  if (r.s3Location) return `s3://${r.s3Location.bucket}/${r.s3Location.key}${r.s3Location.version ? '@' + r.s3Location.version : ''}`;
  if (r.gitHubLocation) return `${r.gitHubLocation.repository}@${(r.gitHubLocation.commitId || '').slice(0, 12)}`;
  if (r.appSpecContent) return `AppSpec ${(r.appSpecContent.sha256 || '').slice(0, 12) || 'inline'}`;
  if (r.string) return `inline ${(r.string.sha256 || '').slice(0, 12)}`;
  for (const [k, v] of Object.entries(r)) {
    if (!v || typeof v !== 'object' || k === 'revisionType') continue;
    if (v.sha256) return `${r.revisionType || k} sha256:${v.sha256.slice(0, 12)}${v.bundleType ? ' (' + v.bundleType + ')' : ''}`;
    return `${r.revisionType || k}: ${JSON.stringify(v).slice(0, 80)}`;
  }
  return r.revisionType || '—';
}

// ---- deployments (filters, paging) ----

async function pageDeployments(page, q, gen) {
  const app = q.get('app') || '', group = q.get('group') || '', status = q.get('status') || '';
  const from = q.get('from') || '', to = q.get('to') || '';
  const apps = await listAll('ListApplications', {}, 'applications');
  const groups = app ? await listAll('ListDeploymentGroups', { applicationName: app }, 'deploymentGroups') : [];
  if (gen !== S.gen) return;
  const sel = (id, label, values, cur, any) => [h('label', { for: id, text: label }),
    h('select', { id }, h('option', { value: '', text: any }), values.map((v) => h('option', { value: v, text: v, selected: v === cur })))];
  const form = h('form', { class: 'filters', 'aria-label': 'Filter deployments' },
    h('div', {}, sel('f-app', 'Application', apps, app, 'any')),
    h('div', {}, sel('f-group', 'Group', groups, group, app ? 'any' : 'pick an application')),
    h('div', {}, sel('f-status', 'Status', STATUSES, status, 'any')),
    h('div', {}, h('label', { for: 'f-from', text: 'Created after' }), h('input', { id: 'f-from', type: 'datetime-local', value: from })),
    h('div', {}, h('label', { for: 'f-to', text: 'Created before' }), h('input', { id: 'f-to', type: 'datetime-local', value: to })),
    h('button', { type: 'submit', class: 'primary', text: 'Apply' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = new URLSearchParams();
    const a = $('f-app').value, g = $('f-group').value;
    if (a) n.set('app', a);
    if (a && g && a === app) n.set('group', g);
    for (const [k, id] of [['status', 'f-status'], ['from', 'f-from'], ['to', 'f-to']]) if ($(id).value) n.set(k, $(id).value);
    location.hash = `#/deployments?${n}`;
  });
  $('f-group') && (form.querySelector('#f-group').disabled = !app);
  const table = h('div', { class: 'scroll' });
  const pager = h('div', { class: 'pager' });
  page.replaceChildren(h('h1', { text: 'Deployments' }), form, table, pager);

  const req = {};
  if (app) req.applicationName = app;
  if (app && group) req.deploymentGroupName = group;
  if (status) req.includeOnlyStatuses = [status];
  if (from || to) req.createTimeRange = Object.assign({}, from ? { start: new Date(from).getTime() / 1000 } : {}, to ? { end: new Date(to).getTime() / 1000 } : {});
  const tokens = [undefined];
  let pageNo = 0;
  async function load() {
    table.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
    const r = await cd('ListDeployments', Object.assign({}, req, tokens[pageNo] ? { nextToken: tokens[pageNo] } : {}));
    if (gen !== S.gen) return;
    tokens[pageNo + 1] = r.nextToken;
    const ids = r.deployments || [];
    const infos = ids.length ? await batchGet('BatchGetDeployments', 'deploymentIds', ids, 'deploymentsInfo') : [];
    if (gen !== S.gen) return;
    const byId = new Map(infos.map((d) => [d.deploymentId, d]));
    const rows = ids.map((id) => byId.get(id)).filter(Boolean).map((d) => {
      const o = d.deploymentOverview || {};
      const dur = d.completeTime && d.createTime ? fmtDur(d.completeTime - d.createTime) : '';
      return h('tr', {},
        h('td', {}, h('a', { href: `#/deployment/${d.deploymentId}`, text: d.deploymentId })),
        h('td', { text: d.applicationName }), h('td', { text: d.deploymentGroupName }),
        h('td', {}, badge(d.status)),
        h('td', { class: 'hide-sm', text: fmtTime(d.createTime) }), h('td', { class: 'hide-sm', text: dur }),
        h('td', { class: 'hide-sm', text: `${o.Succeeded || 0} ok · ${o.Failed || 0} failed · ${(o.InProgress || 0) + (o.Pending || 0)} to go` }),
        h('td', { class: 'hide-sm', text: d.creator || '' }));
    });
    table.replaceChildren(h('table', {},
      h('caption', { class: 'muted', text: `Page ${pageNo + 1}` }),
      h('thead', {}, h('tr', {}, ['Deployment', 'Application', 'Group', 'Status'].map((t) => h('th', { scope: 'col', text: t })),
        ['Created', 'Took', 'Targets', 'Creator'].map((t) => h('th', { scope: 'col', class: 'hide-sm', text: t })))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 8, class: 'muted', text: 'No deployments match.' })))));
    pager.replaceChildren(
      h('button', { type: 'button', disabled: pageNo === 0, onclick: () => { pageNo--; load(); }, text: '← Newer' }),
      h('button', { type: 'button', disabled: !r.nextToken, onclick: () => { pageNo++; load(); }, text: 'Older →' }));
  }
  await load();
}

// ---- one deployment ----

function eventSpan(t) {
  let s = Infinity, e = 0;
  for (const ev of t.lifecycleEvents || []) {
    if (ev.startTime) s = Math.min(s, ev.startTime);
    if (ev.endTime) e = Math.max(e, ev.endTime);
    else if (ev.startTime) e = Math.max(e, Date.now() / 1000);
  }
  return [s, e];
}

// A target of any platform as the page shows it.
function targetView(t) {
  const x = t.instanceTarget || t.lambdaTarget || t.ecsTarget || t.cloudFormationTarget || {};
  return {
    id: x.targetId || x.deploymentId, status: x.status, events: x.lifecycleEvents || [], label: x.instanceLabel,
    updated: x.lastUpdatedAt, raw: x,
    weight: t.lambdaTarget && t.lambdaTarget.lambdaFunctionInfo ? t.lambdaTarget.lambdaFunctionInfo.targetVersionWeight
      : t.ecsTarget && t.ecsTarget.taskSetsInfo ? (t.ecsTarget.taskSetsInfo.find((s) => s.taskSetLabel === 'Green') || {}).trafficWeight : undefined,
  };
}

async function pageDeployment(page, id, gen) {
  const st = { id, info: null, targets: new Map(), order: [], sel: null, weights: [], overviewKey: '', lastFull: 0, logToken: null, logFor: null, alarms: null };
  const head = h('div');
  const overview = h('div');
  const actions = h('div', { class: 'actions' });
  const tlWrap = h('section', { 'aria-labelledby': 'tl-h' });
  const detail = h('section', { class: 'detail', hidden: true, 'aria-live': 'polite', id: 'target-detail' });
  const weight = h('section', { hidden: true });
  const alarms = h('section', { hidden: true });
  page.replaceChildren(head, overview, actions, alarms, weight, tlWrap, detail);

  // the timeline: virtualised rows, bars on one time scale for all targets
  const filter = h('input', { id: 'tl-filter', type: 'search', placeholder: 'instance or status', 'aria-label': 'Filter targets' });
  const viewport = h('div', { class: 'tl-viewport', tabindex: '-1' });
  const space = h('div', { class: 'tl-space' });
  viewport.append(space);
  const count = h('span', { class: 'muted' });
  tlWrap.append(h('h2', { id: 'tl-h' }, 'Targets and lifecycle events ', count), h('div', { class: 'filters' }, filter),
    h('p', { class: 'legend', id: 'tl-legend', text: 'Bars are each lifecycle event, drawn to one time scale: green succeeded, red failed, blue running, grey skipped. Select a target for its events, errors and logs.' }),
    h('div', { class: 'timeline', role: 'list', 'aria-describedby': 'tl-legend' },
      h('div', { class: 'tl-head', 'aria-hidden': 'true' }, h('span', { text: 'Target' }), h('span', { text: 'Status' }), h('span', { id: 'tl-scale' })), viewport));
  let visible = [];
  let scale = [0, 1];
  function computeVisible() {
    const f = filter.value.trim().toLowerCase();
    visible = st.order.map((k) => st.targets.get(k)).filter((t) => t && (!f || t.id.toLowerCase().includes(f) || (t.status || '').toLowerCase() === f));
    let s = Infinity, e = 0;
    for (const t of st.targets.values()) { const [a, b] = eventSpan(t); s = Math.min(s, a); e = Math.max(e, b); }
    if (!isFinite(s)) { s = st.info ? st.info.createTime : 0; e = s + 1; }
    scale = [s, Math.max(e, s + 0.05)];
    space.style.height = `${visible.length * ROW_H}px`;
    count.textContent = `(${visible.length} of ${st.order.length})`;
    $('tl-scale') && ($('tl-scale').textContent = `${fmtTime(scale[0])} → ${fmtDur(scale[1] - scale[0])}`);
  }
  function row(t, i) {
    const [s0, s1] = scale, w = s1 - s0;
    const track = h('span', { class: 'tl-track' });
    for (const ev of t.events) {
      if (!ev.startTime) continue;
      const end = ev.endTime || Date.now() / 1000;
      const seg = h('span', { class: `seg ${ev.status}`, title: `${ev.lifecycleEventName}: ${ev.status}, ${fmtDur(end - ev.startTime)}` });
      seg.style.left = `${((ev.startTime - s0) / w) * 100}%`;
      seg.style.width = `${Math.max(((end - ev.startTime) / w) * 100, 0.2)}%`;
      track.append(seg);
    }
    const done = t.events.filter((e) => e.status === 'Succeeded').length;
    const b = h('button', { type: 'button', class: `tl-row${st.sel === t.id ? ' sel' : ''}`, role: 'listitem', 'data-target': t.id,
      'aria-label': `${t.id}: ${t.status}, ${done} of ${t.events.length} events succeeded`, onclick: () => select(t.id) },
      h('span', { class: 'tl-name', text: t.id + (t.label ? ` (${t.label})` : '') }), badge(t.status), track);
    b.style.top = `${i * ROW_H}px`;
    return b;
  }
  function renderRows() {
    const top = viewport.scrollTop, hgt = viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - 10), last = Math.min(visible.length, Math.ceil((top + hgt) / ROW_H) + 10);
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.target : null;
    const rows = [];
    for (let i = first; i < last; i++) rows.push(row(visible[i], i));
    space.replaceChildren(...rows);
    if (focused) { const f = space.querySelector(`[data-target="${CSS.escape(focused)}"]`); if (f) f.focus({ preventScroll: true }); }
  }
  let raf = 0;
  viewport.addEventListener('scroll', () => { if (!raf) raf = requestAnimationFrame(() => { raf = 0; renderRows(); }); });
  viewport.addEventListener('keydown', (ev) => {
    const cur = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.target : null;
    if (!cur || (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp')) return;
    ev.preventDefault();
    const i = visible.findIndex((t) => t.id === cur) + (ev.key === 'ArrowDown' ? 1 : -1);
    if (i < 0 || i >= visible.length) return;
    viewport.scrollTop = Math.min(viewport.scrollTop, i * ROW_H);
    if ((i + 1) * ROW_H > viewport.scrollTop + viewport.clientHeight) viewport.scrollTop = (i + 1) * ROW_H - viewport.clientHeight;
    renderRows();
    const f = space.querySelector(`[data-target="${CSS.escape(visible[i].id)}"]`);
    if (f) f.focus();
  });
  filter.addEventListener('input', () => { computeVisible(); renderRows(); });

  function select(tid) {
    st.sel = tid;
    st.logToken = null;
    st.logFor = tid;
    renderRows();
    renderDetail(true);
  }

  const logPre = h('pre', { class: 'log', id: 'live-log', 'aria-label': 'Live hook output' });
  function renderDetail(fresh) {
    const t = st.targets.get(st.sel);
    if (!t) { detail.hidden = true; return; }
    detail.hidden = false;
    if (fresh) logPre.textContent = '';
    const rows = t.events.map((ev) => {
      const dur = ev.startTime ? (ev.endTime || Date.now() / 1000) - ev.startTime : undefined;
      const d = ev.diagnostics;
      return [h('tr', {}, h('td', { text: ev.lifecycleEventName }), h('td', {}, badge(ev.status)), h('td', { text: fmtTime(ev.startTime) }), h('td', { text: fmtDur(dur) })),
        d && (d.errorCode || d.logTail) && ev.status !== 'Succeeded' ? h('tr', { class: 'diag' }, h('td', { colspan: 4 },
          h('dl', { class: 'kv' }, h('dt', { text: 'Error code' }), h('dd', { text: d.errorCode || '' }), h('dt', { text: 'Script' }), h('dd', { text: d.scriptName || '' }),
            h('dt', { text: 'Message' }), h('dd', { text: d.message || '' })),
          h('pre', { class: 'log', 'aria-label': `Log tail of ${ev.lifecycleEventName}`, text: d.logTail || '' }))) : null];
    });
    const running = t.events.find((e) => e.status === 'InProgress');
    detail.replaceChildren(h('h2', { text: `Target ${t.id}` }), h('p', {}, badge(t.status), ' ', h('span', { class: 'muted', text: t.updated ? `updated ${fmtTime(t.updated)}` : '' })),
      h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['Event', 'Status', 'Started', 'Took'].map((x) => h('th', { scope: 'col', text: x })))), h('tbody', {}, rows))),
      h('h2', {}, 'Hook output ', running ? h('span', { class: 'live', text: `live: ${running.lifecycleEventName}` }) : h('span', { class: 'muted', text: '(as recorded)' })), logPre);
  }

  async function fetchLogs() {
    if (!st.sel || !st.info || st.info.computePlatform !== 'Server') return;
    const tid = st.sel;
    try {
      const r = await api(RD + 'GetDeploymentLogs', Object.assign({ DeploymentId: id, InstanceId: tid }, st.logToken ? { NextToken: st.logToken } : {}));
      if (tid !== st.logFor || gen !== S.gen) return;
      const stick = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
      for (const l of r.Logs || []) logPre.append(`[${l.LifecycleEventName}] ${l.Data || l.Output || ''}`);
      if (r.NextToken) st.logToken = r.NextToken;
      if (stick) logPre.scrollTop = logPre.scrollHeight;
    } catch (e) { /* logs are extra: the events still show */ }
  }

  function renderHead() {
    const d = st.info;
    if (!page.dataset.headRendered) page.dataset.headRendered = String(performance.now());
    const rb = d.rollbackInfo || {};
    head.replaceChildren(h('h1', {}, `Deployment ${d.deploymentId} `, badge(d.status)),
      h('dl', { class: 'kv' },
        h('dt', { text: 'Application' }), h('dd', {}, h('a', { href: `#/deployments?app=${encodeURIComponent(d.applicationName)}`, text: d.applicationName })),
        h('dt', { text: 'Group' }), h('dd', {}, h('a', { href: `#/deployments?app=${encodeURIComponent(d.applicationName)}&group=${encodeURIComponent(d.deploymentGroupName)}`, text: d.deploymentGroupName })),
        h('dt', { text: 'Config' }), h('dd', { text: `${d.deploymentConfigName} · ${d.computePlatform}${d.deploymentStyle ? ' · ' + d.deploymentStyle.deploymentType : ''}` }),
        h('dt', { text: 'Revision' }), h('dd', { text: revisionText(d.revision) }),
        h('dt', { text: 'Created' }), h('dd', { text: `${fmtTime(d.createTime)} by ${d.creator || '?'}` }),
        h('dt', { text: 'Took' }), h('dd', { text: d.completeTime ? fmtDur(d.completeTime - d.createTime) : `running for ${fmtDur(Date.now() / 1000 - d.createTime)}` }),
        rb.rollbackDeploymentId ? [h('dt', { text: 'Rolled back by' }), h('dd', {}, h('a', { href: `#/deployment/${rb.rollbackDeploymentId}`, text: rb.rollbackDeploymentId }), ' ', rb.rollbackMessage || '')] : null,
        rb.rollbackTriggeringDeploymentId ? [h('dt', { text: 'Rolls back' }), h('dd', {}, h('a', { href: `#/deployment/${rb.rollbackTriggeringDeploymentId}`, text: rb.rollbackTriggeringDeploymentId }))] : null,
        d.errorInformation ? [h('dt', { text: 'Error' }), h('dd', { class: 'error', role: 'alert', text: `${d.errorInformation.code}: ${d.errorInformation.message}` })] : null,
        (d.deploymentStatusMessages || []).length ? [h('dt', { text: 'Messages' }), h('dd', { text: d.deploymentStatusMessages.join(' · ') })] : null));
    const o = d.deploymentOverview || {};
    overview.replaceChildren(h('div', { class: 'cards', role: 'group', 'aria-label': 'Targets by status' },
      ['Pending', 'InProgress', 'Succeeded', 'Failed', 'Skipped', 'Ready'].map((k) => h('div', { class: 'card' }, h('b', { text: String(o[k] || 0) }), k))),
      ...(ACTIVE.includes(d.status) ? [h('p', { class: 'live', text: 'Live: updates as the deployment runs.' })] : []));
    renderActions();
  }

  function renderActions() {
    const d = st.info, may = S.session.allowed || {};
    const btns = [];
    if (may.StopDeployment && ACTIVE.includes(d.status)) {
      btns.push(h('button', { type: 'button', class: 'danger', id: 'act-stop', text: 'Stop…', onclick: async () => {
        const rb = h('input', { type: 'checkbox', id: 'stop-rollback' });
        const ok = await confirmAction('Stop this deployment?', `Deployment ${d.deploymentId} stops; targets not yet done are left as they are.`, 'Stop deployment',
          h('div', {}, rb, h('label', { for: 'stop-rollback', style: 'display:inline', text: ' and roll back to the previous revision' })));
        if (!ok) return;
        try {
          const r = await cd('StopDeployment', { deploymentId: d.deploymentId, autoRollbackEnabled: rb.checked });
          toast(`Stop: ${r.status || 'requested'} ${r.statusMessage || ''}`);
          tick(true);
        } catch (e) { toast(`${e.type}: ${e.message}`); }
      } }));
    }
    if (may.ContinueDeployment && d.status === 'Ready') {
      btns.push(h('button', { type: 'button', class: 'primary', id: 'act-continue', text: 'Continue (reroute traffic)…', onclick: async () => {
        if (!await confirmAction('Continue this deployment?', 'Traffic is rerouted to the replacement environment now.', 'Continue')) return;
        try { await cd('ContinueDeployment', { deploymentId: d.deploymentId, deploymentWaitType: 'READY_WAIT' }); toast('Continuing'); tick(true); } catch (e) { toast(`${e.type}: ${e.message}`); }
      } }));
    }
    if (may.CreateDeployment && d.revision && !ACTIVE.includes(d.status)) {
      btns.push(h('button', { type: 'button', id: 'act-redeploy', text: 'Redeploy this revision…', onclick: async () => {
        if (!await confirmAction('Redeploy this revision?', `A new deployment of ${revisionText(d.revision)} to ${d.applicationName}/${d.deploymentGroupName} starts now.`, 'Redeploy')) return;
        try {
          const r = await cd('CreateDeployment', { applicationName: d.applicationName, deploymentGroupName: d.deploymentGroupName, revision: d.revision,
            description: `redeploy of ${d.deploymentId} from the dashboard` });
          location.hash = `#/deployment/${r.deploymentId}`;
        } catch (e) { toast(`${e.type}: ${e.message}`); }
      } }));
    }
    actions.replaceChildren(...btns);
  }

  async function loadAlarms() {
    const d = st.info;
    let cfg = d.alarmConfiguration;
    if (!cfg) {
      try { cfg = (await cd('GetDeploymentGroup', { applicationName: d.applicationName, deploymentGroupName: d.deploymentGroupName })).deploymentGroupInfo.alarmConfiguration; } catch (e) { cfg = null; }
    }
    if (!cfg || !(cfg.alarms || []).length) return;
    const stoppedBy = d.errorInformation && d.errorInformation.code === 'ALARM_ACTIVE' ? d.errorInformation.message : '';
    alarms.hidden = false;
    alarms.replaceChildren(h('h2', { text: `Alarms checked${cfg.enabled ? '' : ' (disabled)'}` }),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Alarm' }), h('th', { scope: 'col', text: 'State' }))),
        h('tbody', {}, cfg.alarms.map((a) => h('tr', {}, h('td', { text: a.name }),
          h('td', {}, stoppedBy.includes(a.name) ? badge('ALARM') : h('span', { text: d.status === 'Failed' || d.status === 'Stopped' ? 'not in alarm when last checked' : 'OK (no alarm raised)' })))))),
      stoppedBy ? h('p', { class: 'error', text: stoppedBy } ) : null,
      cfg.ignorePollAlarmFailure ? h('p', { class: 'muted', text: 'Alarm poll failures are ignored.' }) : null);
  }

  function renderWeight() {
    if (!st.weights.length) return;
    weight.hidden = false;
    const pts = st.weights, t0 = st.info.createTime, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
    const W = 700, H = 160, x = (t) => 40 + ((t - t0) / (t1 - t0)) * (W - 50), y = (v) => 10 + (1 - v / 100) * (H - 30);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('class', 'chart');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `Traffic on the new version over time; now ${pts[pts.length - 1].v}%`);
    const mk = (tag, a, text) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); if (text) e.textContent = text; svg.append(e); };
    mk('line', { x1: 40, y1: y(0), x2: W - 10, y2: y(0), stroke: '#9ca3af' });
    mk('line', { x1: 40, y1: y(100), x2: W - 10, y2: y(100), stroke: '#e5e7eb' });
    mk('text', { x: 4, y: y(100) + 4, 'font-size': 11, fill: '#4b5563' }, '100%');
    mk('text', { x: 14, y: y(0) + 4, 'font-size': 11, fill: '#4b5563' }, '0%');
    let dpath = '';
    pts.forEach((p, i) => { dpath += `${i ? 'H' : 'M'}${x(p.t).toFixed(1)} ${i ? '' : y(p.v).toFixed(1)}${i ? 'V' + y(p.v).toFixed(1) : ''} `; });
    mk('path', { d: dpath, fill: 'none', stroke: '#1d4ed8', 'stroke-width': 2 });
    weight.replaceChildren(h('h2', { text: 'Traffic on the new version' }), svg,
      h('p', { class: 'muted', text: `${pts.map((p) => `${p.v}% at ${fmtTime(p.t)}`).join(', ')}` }));
  }

  function recordWeights() {
    let w;
    for (const t of st.targets.values()) if (t.weight !== undefined && t.weight !== null) w = t.weight;
    if (w === undefined) return;
    // the weight steps as the lifecycle events show them, then what was seen since
    const last = st.weights[st.weights.length - 1];
    if (!last || last.v !== w) st.weights.push({ t: Date.now() / 1000, v: Math.round(w * 100) / 100 });
  }

  async function loadTargets(ids) {
    if (!ids) {
      ids = await listAll('ListDeploymentTargets', { deploymentId: id }, 'targetIds');
      st.order = ids;
      st.lastFull = Date.now();
    }
    if (!ids.length) return;
    // the first rows are drawn as soon as their chunk arrives, not after all of them
    const first = !st.targets.size;
    await batchGet('BatchGetDeploymentTargets', 'targetIds', ids, 'deploymentTargets', { deploymentId: id }, (got, i) => {
      for (const t of got) { const v = targetView(t); if (v.id) st.targets.set(v.id, v); }
      if (first && i === 0 && gen === S.gen) {
        computeVisible();
        renderRows();
        page.dataset.firstRows = String(performance.now());
      }
    });
  }

  async function tick(force) {
    if (gen !== S.gen) return;
    try {
      const d = (await cd('GetDeployment', { deploymentId: id })).deploymentInfo;
      if (gen !== S.gen) return;
      const key = JSON.stringify([d.status, d.deploymentOverview, d.rollbackInfo, d.errorInformation]);
      const changed = key !== st.overviewKey;
      st.info = d;
      st.overviewKey = key;
      if (changed || force) renderHead();
      if (d.status !== 'Created' && d.status !== 'Queued') {
        const running = [...st.targets.values()].filter((t) => !FINAL_TARGET.includes(t.status)).map((t) => t.id);
        // a full reread when the counts moved (at most every 3 s); else only the targets still running
        if (!st.order.length || (changed && Date.now() - st.lastFull > 3000) || force) await loadTargets(null);
        else if (running.length) await loadTargets(running);
        recordWeights();
        computeVisible();
        renderRows();
        renderWeight();
        if (st.sel) { renderDetail(false); await fetchLogs(); }
      }
      if (!st.alarmsLoaded) { st.alarmsLoaded = true; loadAlarms().catch(() => {}); }
      if (ACTIVE.includes(d.status) || (changed && !st.finalSeen++)) S.timer = setTimeout(() => next(), 0);
      else if (st.sel) renderDetail(false);
    } catch (e) {
      if (gen !== S.gen) return;
      if (!st.info) throw e;
      toast(`${e.type}: ${e.message}`);
      S.timer = setTimeout(() => tick(false), POLL_MS * 3);
    }
  }

  // Reads again once the deployment changed; a selected event still running
  // shows its hook output as it comes, so then at least every POLL_MS.
  async function next() {
    if (gen !== S.gen) return;
    const t = st.sel && st.targets.get(st.sel);
    const live = t && !FINAL_TARGET.includes(t.status);
    try {
      st.seq = await waitForChange(id, st.seq, live ? POLL_MS : WAIT_MS);
    } catch (e) {
      if (gen !== S.gen || e.name === 'AbortError') return;
      await new Promise((ok) => setTimeout(ok, POLL_MS * 3)); // the daemon restarting, say
    }
    tick(false);
  }

  st.finalSeen = 0;
  // the counter first: a change between the first read and the first wait is then not missed
  st.seq = await waitForChange(id, -1, 100).catch(() => -1);
  await tick(true);
  const wanted = new URLSearchParams(location.hash.split('?')[1] || '').get('target');
  if (wanted) select(wanted);
  document.title = `${id} · rolloutd`;
  page.dataset.rendered = String(performance.now());
}

// ---- instances ----

async function pageInstances(page, gen) {
  const names = await listAll('ListOnPremisesInstances', {}, 'instanceNames');
  const infos = names.length ? await batchGet('BatchGetOnPremisesInstances', 'instanceNames', names, 'instanceInfos') : [];
  let agents = { lastSeen: {}, now: Date.now() / 1000, connectedWithinSeconds: 110 };
  try { agents = await post('/ui/agents'); } catch (e) { /* liveness unknown */ }
  if (gen !== S.gen) return;
  // each instance's newest deployment among the recent ones
  const last = new Map();
  const recent = await cd('ListDeployments', {});
  const ids = (recent.deployments || []).slice(0, 20);
  const deps = ids.length ? await batchGet('BatchGetDeployments', 'deploymentIds', ids, 'deploymentsInfo') : [];
  deps.sort((a, b) => b.createTime - a.createTime);
  for (const d of deps) {
    if (d.computePlatform !== 'Server' || d.status === 'Created' || d.status === 'Queued') continue;
    let inst = [];
    try { inst = await listAll('ListDeploymentInstances', { deploymentId: d.deploymentId }, 'instancesList', 1000); } catch (e) { continue; }
    for (const i of inst) if (!last.has(i)) last.set(i, d);
    if (gen !== S.gen) return;
  }
  const filter = h('input', { id: 'inst-filter', type: 'search', 'aria-label': 'Filter instances', placeholder: 'name, tag or status' });
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const PAGE = 100;
  let pageNo = 0;
  function rowsFor() {
    const f = filter.value.trim().toLowerCase();
    return infos.filter((i) => !f || i.instanceName.toLowerCase().includes(f) || JSON.stringify(i.tags || []).toLowerCase().includes(f) ||
      (last.get(i.instanceName) && last.get(i.instanceName).status.toLowerCase() === f));
  }
  function render() {
    const all = rowsFor();
    pageNo = Math.min(pageNo, Math.max(0, Math.ceil(all.length / PAGE) - 1));
    tbody.replaceChildren(...all.slice(pageNo * PAGE, (pageNo + 1) * PAGE).map((i) => {
      const seen = agents.lastSeen[i.instanceName];
      const alive = seen && agents.now - seen <= agents.connectedWithinSeconds;
      const d = last.get(i.instanceName);
      return h('tr', {},
        h('td', { text: i.instanceName }),
        h('td', { class: 'hide-sm', text: (i.tags || []).map((t) => `${t.Key}=${t.Value}`).join(', ') }),
        h('td', {}, i.deregisterTime ? badge('Deregistered') : null, h('span', { text: seen ? `${alive ? 'connected' : 'silent'} · ${fmtDur(agents.now - seen)} ago` : 'never heard from' })),
        h('td', { text: d ? revisionText(d.revision) : '—' }),
        h('td', {}, d ? [h('a', { href: `#/deployment/${d.deploymentId}?target=${encodeURIComponent(i.instanceName)}`, text: d.deploymentId }), ' ', badge(d.status)] : '—'));
    }));
    pager.replaceChildren(h('span', { class: 'muted', text: `${all.length} instances` }),
      h('button', { type: 'button', disabled: pageNo === 0, onclick: () => { pageNo--; render(); }, text: '← Previous' }),
      h('button', { type: 'button', disabled: (pageNo + 1) * PAGE >= all.length, onclick: () => { pageNo++; render(); }, text: 'Next →' }));
  }
  filter.addEventListener('input', () => { pageNo = 0; render(); });
  page.replaceChildren(h('h1', { text: 'Instances' }), h('div', { class: 'filters' }, filter),
    h('p', { class: 'muted', text: 'Revision and last deployment: the newest of the 20 most recent deployments that reached the instance. Agent: connected when heard from within two long-poll periods.' }),
    h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['Instance', 'Tags', 'Agent', 'Revision', 'Last deployment'].map((t, i) => h('th', { scope: 'col', class: i === 1 ? 'hide-sm' : null, text: t })))), tbody)), pager);
  render();
}

document.addEventListener('DOMContentLoaded', start);
