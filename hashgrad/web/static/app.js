// hashgrad explorer: a single page over the explorer's read-only JSON API (/api/...).
// Plain DOM, no framework and no network access beyond this server. Every value that comes from the
// chain is put in the page as text (never as HTML). It polls /api/status every 2 s and refreshes the
// sections whose data changed; the detail panel follows the URL fragment (#/block/HASH, #/tx/TXID,
// #/account/ADDRESS, #/epoch/JOB/EPOCH), so the browser's back button and shared links work.
"use strict";

const POLL_MS = 2000;
const COIN = 100000000;
const REWARD_EPOCHS_SHOWN = 4;
const SVG_NS = "http://www.w3.org/2000/svg";

const state = { height: null, best: null, liveText: "", live: { epochs: [], initial_heldout_loss: null },
                routeSeq: 0, blockHashes: new Set() };

// ---------------------------------------------------------------- small helpers
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return append(node, children);
}

class ApiError extends Error {
  constructor(status, reason, detail) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.status = status;
    this.reason = reason;
  }
}

async function api(path) {
  const response = await fetch("/api/" + path, { cache: "no-store" });
  let body;
  try {
    body = await response.json();
  } catch (e) {
    throw new ApiError(response.status, "bad-response", `HTTP ${response.status}`);
  }
  if (!response.ok) throw new ApiError(response.status, body.error || "error", body.detail || "");
  return body;
}

function coins(units) {
  if (typeof units !== "number") return "–";
  const sign = units < 0 ? "-" : "";
  const abs = Math.abs(units);
  const whole = Math.floor(abs / COIN).toLocaleString("en-US");
  let frac = String(abs % COIN).padStart(8, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return `${sign}${whole}.${frac}`;
}

// Amounts in tables: 4 decimals, so columns stay narrow and aligned (the detail views show all 8).
function coinsShort(units) {
  if (typeof units !== "number") return "–";
  return (units / COIN).toLocaleString("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
}

const pct = (x) => (typeof x === "number" ? (x * 100).toFixed(1) + "%" : "–");
const short = (text, head = 10) => (text && text.length > head + 8 ? `${text.slice(0, head)}…${text.slice(-6)}` : text || "");

function ago(seconds) {
  const delta = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  if (delta < 60) return `${delta} s ago`;
  if (delta < 3600) return `${Math.floor(delta / 60)} min ago`;
  if (delta < 86400) return `${Math.floor(delta / 3600)} h ago`;
  return `${Math.floor(delta / 86400)} d ago`;
}

const when = (seconds) => `${new Date(seconds * 1000).toLocaleString()} (${ago(seconds)})`;

// ---------------------------------------------------------------- links (routes inside the page)
function routeButton(route, label, cls, extra) {
  return el("button", { type: "button", class: `link ${cls}`, "data-route": route, title: extra && extra.title,
                        "data-hash": extra && extra.hash }, label);
}

const blockLink = (hash, label) => routeButton(`block/${hash}`, label || short(hash), "block-link", { hash, title: hash });
const txLink = (txid, label) => routeButton(`tx/${txid}`, label || short(txid), "mono tx-link", { title: txid });
const addressLink = (address, label) =>
  address ? routeButton(`account/${address}`, label || short(address, 12), "mono address-link", { title: address }) : "–";
const epochLink = (job, epoch, label) => routeButton(`epoch/${job}/${epoch}`, label || `epoch ${epoch}`, "epoch-link");

function kv(pairs) {
  const list = el("dl", { class: "kv" });
  for (const [key, value] of pairs) {
    if (value === undefined) continue;
    list.append(el("dt", {}, key), el("dd", {}, value === null ? "–" : value));
  }
  return list;
}

const mono = (text) => el("span", { class: "mono" }, text);
const tag = (text, cls) => el("span", { class: `tag ${cls || ""}` }, text);
const kindTag = (kind) => tag(String(kind).replace(/_/g, " "), `kind-${kind}`);

// ---------------------------------------------------------------- header and status
function renderStatus(status) {
  $("network").textContent = status.network;
  $("height").textContent = status.height.toLocaleString("en-US");
  $("supply").textContent = coins(status.supply.issued);
  $("supply").title = `in accounts ${coins(status.supply.in_accounts)}, in job pools ${coins(status.supply.in_pools)}, ` +
                      `burned ${coins(status.supply.burned)}`;
  $("peers").textContent = status.peers === null ? "p2p off" : String(status.peers);
  $("mempool").textContent = `${status.mempool.size} tx`;
}

function setLive(ok, message) {
  $("live").className = ok ? "live on" : "live off";
  $("live").textContent = ok ? "live" : "offline";
  const banner = $("banner");
  banner.hidden = ok;
  if (!ok) banner.textContent = `The explorer cannot read the node right now (${message}). Retrying every 2 s…`;
}

// ---------------------------------------------------------------- recent blocks
async function refreshBlocks() {
  const reply = await api("blocks?count=25");
  const body = $("blocks").querySelector("tbody");
  const seen = state.blockHashes;
  const rows = reply.blocks.map((b) => el("tr", { class: seen.size && !seen.has(b.hash) ? "fresh" : null },
    el("td", {}, blockLink(b.hash, `#${b.height}`)),
    el("td", {}, mono(short(b.hash, 14))),
    el("td", { title: new Date(b.time * 1000).toLocaleString() }, ago(b.time)),
    el("td", { class: "num" }, b.nTx),
    el("td", { class: "num" }, `${b.size.toLocaleString("en-US")} B`)));
  state.blockHashes = new Set(reply.blocks.map((b) => b.hash));
  body.replaceChildren(...rows);
}

// ---------------------------------------------------------------- transactions, described
function describeTx(tx) {
  const job = (t) => [" on job ", el("b", {}, t.job_id)];
  const jobEpoch = (t) => [" for job ", el("b", {}, t.job_id), ", ", epochLink(t.job_id, t.epoch)];
  const from = addressLink(tx.sender);
  switch (tx.kind) {
    case "coinbase":
      return ["pays ", el("span", { class: "amount" }, coins(tx.amount)), " to ", addressLink(tx.recipient)];
    case "transfer":
      return [from, " → ", addressLink(tx.recipient), " ", el("span", { class: "amount" }, coins(tx.amount))];
    case "register":
      return [from, " registers hotkey ", addressLink(tx.hotkey_address), job(tx),
              ` (burn at most ${coins(tx.max_burn)})`];
    case "add_stake":
      return [from, " stakes ", el("span", { class: "amount" }, coins(tx.amount)), " on ", addressLink(tx.hotkey_address)];
    case "remove_stake":
      return [from, " unstakes ", el("span", { class: "amount" }, coins(tx.amount)), " from ",
              addressLink(tx.hotkey_address)];
    case "commit_work":
      return [from, " commits work ", mono(short(tx.commitment)), jobEpoch(tx)];
    case "reveal_work":
      return [from, " reveals artifact ", mono(short(tx.artifact_id)), " on checkpoint ", mono(short(tx.base_checkpoint)),
              jobEpoch(tx)];
    case "commit_weights":
      return [from, " commits weights ", mono(short(tx.commitment)), jobEpoch(tx)];
    case "reveal_weights":
      return [from, ` reveals weights for ${(tx.weights || []).length} uids`, jobEpoch(tx)];
    case "attest_checkpoint":
      return [from, " attests checkpoint ", mono(short(tx.checkpoint)), jobEpoch(tx)];
    case "publish_evidence":
      return [from, ` publishes audit evidence against uid${(tx.entries || []).length > 1 ? "s" : ""} `,
              (tx.entries || []).map(([uid]) => uid).join(", "), jobEpoch(tx)];
    default:
      return [from, " ", mono(tx.payload ? short(tx.payload, 24) : "")];
  }
}

function txItem(tx, extra) {
  return el("li", {},
    el("div", { class: "tx-top" }, kindTag(tx.kind), txLink(tx.txid), extra || null,
       tx.fee ? el("span", { class: "hint" }, `fee ${coins(tx.fee)}`) : null),
    el("div", { class: "tx-body" }, describeTx(tx)));
}

// ---------------------------------------------------------------- detail panel (follows the URL fragment)
function parseRoute() {
  let parts;
  try {
    parts = decodeURIComponent(location.hash.replace(/^#\/?/, "")).split("/");
  } catch (e) {
    return null; // a malformed %-escape typed into the address bar
  }
  const kinds = { block: 2, tx: 2, account: 2, epoch: 3 };
  return kinds[parts[0]] === parts.length ? parts : null;
}

async function showRoute(quiet) {
  const route = parseRoute();
  if (!route) return;
  const seq = ++state.routeSeq;
  const render = { block: renderBlock, tx: renderTx, account: renderAccount, epoch: renderEpoch }[route[0]];
  try {
    const [title, content] = await render(...route.slice(1));
    if (seq !== state.routeSeq) return; // a newer click won
    $("detail-title").textContent = title;
    $("detail").replaceChildren(content);
    if (!quiet) $("detail-panel").scrollTop = 0;
  } catch (error) {
    if (seq !== state.routeSeq || quiet) return;
    $("detail-title").textContent = error.status === 404 ? "Not found" : "Cannot open this";
    $("detail").replaceChildren(el("p", { class: "error" }, error.message));
  }
}

async function renderBlock(ref) {
  const b = await api(`block/${encodeURIComponent(ref)}`);
  const nav = el("span", { class: "nav" },
    b.previousblockhash ? blockLink(b.previousblockhash, "← previous") : null,
    b.nextblockhash ? blockLink(b.nextblockhash, "next →") : null);
  const content = el("div", { id: "block-detail", "data-hash": b.hash },
    el("div", { class: "detail-head" }, el("span", { class: "title" }, `Block #${b.height}`),
       b.auxpow ? tag("merge-mined") : null, nav),
    kv([["hash", mono(b.hash)], ["height", b.height], ["time", when(b.time)],
        ["confirmations", b.confirmations < 0 ? "not on the active chain" : b.confirmations],
        ["transactions", b.nTx], ["size", `${b.size.toLocaleString("en-US")} bytes`],
        ["difficulty", b.difficulty.toPrecision(4)], ["bits", mono(b.bits)], ["nonce", b.nonce],
        ["merkle root", mono(b.merkleroot)], ["chainwork", mono("0x" + (b.chainwork.replace(/^0+/, "") || "0"))]]),
    el("h3", {}, "Transactions"),
    el("ul", { class: "txs" }, b.tx.map((tx) => txItem(tx))),
    b.tx_not_shown ? el("p", { class: "hint" }, `${b.tx_not_shown} more transactions not shown`) : null);
  return ["Block", content];
}

async function renderTx(txid) {
  const tx = await api(`tx/${encodeURIComponent(txid)}`);
  const where = tx.in_mempool ? tag("pending in the mempool", "pending")
    : el("span", {}, "block ", blockLink(tx.blockhash, `#${tx.height}`), ` (${tx.confirmations} confirmations)`);
  const known = new Set(["txid", "hash", "version", "kind", "sender", "nonce", "fee", "size", "hex", "in_mempool",
                         "confirmations", "blockhash", "height", "blocktime", "hotkey_address"]);
  const fields = Object.entries(tx).filter(([k]) => !known.has(k))
    .map(([k, v]) => [k.replace(/_/g, " "), mono(typeof v === "object" ? JSON.stringify(v) : String(v))]);
  const content = el("div", { id: "tx-detail", "data-txid": tx.txid },
    el("div", { class: "detail-head" }, kindTag(tx.kind), el("span", { class: "title mono" }, short(tx.txid, 16))),
    el("p", { class: "tx-body" }, describeTx(tx)),
    kv([["txid", mono(tx.txid)], ["status", where],
        ["time", tx.blocktime ? when(tx.blocktime) : undefined], ["sender", addressLink(tx.sender, tx.sender)],
        ["nonce", tx.nonce], ["fee", coins(tx.fee)], ["size", `${tx.size} bytes`], ...fields]));
  return ["Transaction", content];
}

async function renderAccount(address) {
  const a = await api(`account/${encodeURIComponent(address)}`);
  const pending = a.pending_txs ? ` (after ${a.pending_txs} pending: ${coins(a.pending_balance)})` : "";
  const registrations = a.registrations && a.registrations.length
    ? a.registrations.map((r) => `job ${r.job} uid ${r.uid}`).join(", ") : "none";
  const history = a.history.map((tx) => txItem(tx, el("span", { class: "hint" },
    tx.height === null ? "pending" : ["block ", blockLink(tx.blockhash, `#${tx.height}`)], ` · ${tx.direction}`)));
  const content = el("div", { id: "account-detail", "data-address": a.address },
    el("div", { class: "detail-head" }, el("span", { class: "title mono" }, short(a.address, 16)),
       a.registrations && a.registrations.length ? tag("registered hotkey", "validator") : null),
    kv([["address", mono(a.address)], ["public key", mono(a.pubkey)],
        ["balance", el("span", { class: "amount" }, coins(a.balance) + pending)], ["nonce", a.nonce],
        ["stake", a.stake === undefined ? undefined : coins(a.stake)], ["registrations", registrations]]),
    el("h3", {}, `Latest transactions (${a.history.length})`),
    history.length ? el("ul", { class: "txs" }, history) : el("p", { class: "empty" }, "No transactions yet."));
  return ["Account", content];
}

async function renderEpoch(job, epoch) {
  const e = await api(`epoch/${encodeURIComponent(job)}/${encodeURIComponent(epoch)}`);
  const uidList = (rows, fn) => (rows.length ? el("ul", { class: "txs" }, rows.map((r) => el("li", {}, fn(r))))
                                             : el("p", { class: "empty" }, "none"));
  const liveEpoch = state.live.epochs.find((x) => x.epoch === e.epoch);
  const content = el("div", { id: "epoch-detail" },
    el("div", { class: "detail-head" }, el("span", { class: "title" }, `Job ${e.job}, epoch ${e.epoch}`),
       el("span", { class: "nav" }, e.epoch > 0 ? epochLink(e.job, e.epoch - 1, "← previous") : null,
          epochLink(e.job, e.epoch + 1, "next →"))),
    kv([["blocks", `${e.start_height} – ${e.end_height}`], ["seed", e.seed ? mono(e.seed) : "not yet known"],
        ["base checkpoint", e.checkpoint ? mono(e.checkpoint) : "not recorded yet"],
        ["held-out loss", liveEpoch && liveEpoch.heldout_loss !== null ? liveEpoch.heldout_loss.toFixed(4) : undefined],
        ["rounds", liveEpoch && liveEpoch.rounds ? liveEpoch.rounds.map((r) =>
          `round ${r.round}: ${r.heldout_loss.toFixed(4)} (${r.artifacts} artifacts)`).join(", ") : undefined],
        ["work", `${e.work_commits.length} committed, ${e.work_reveals.length} revealed`],
        ["weights", `${e.weight_commits.length} committed, ${e.weight_reveals.length} revealed`],
        ["attestations", e.attestations.length]]),
    el("h3", {}, "Revealed work"),
    uidList(e.work_reveals, (r) => [`uid ${r.uid}: artifact `, mono(short(r.artifact_id, 16)),
                                    " on ", mono(short(r.base_checkpoint))]),
    el("h3", {}, "Revealed weights"),
    uidList(e.weight_reveals, (r) => [`uid ${r.uid} → `,
      r.weights.map(([uid, w]) => `uid ${uid}: ${(w / 65535 * 100).toFixed(1)}%`).join(", ")]),
    el("h3", {}, "Checkpoint attestations"),
    uidList(e.attestations, (r) => [`uid ${r.uid}: `, mono(short(r.checkpoint, 16))]),
    el("h3", {}, "Audit evidence"),
    uidList(e.evidence || [], (r) => [`uid ${r.uid}, published by uid ${r.publisher} (${r.reason}): `,
                                      mono(short(r.evidence_id, 16))]));
  return ["Epoch", content];
}

// ---------------------------------------------------------------- jobs and metagraph
async function refreshJobs() {
  const jobs = await api("jobs");
  $("jobs").replaceChildren(...jobs.map((j) => {
    const offset = j.next_block_offset;
    return el("div", { class: "card", "data-job": j.job },
      el("h4", {}, `Job ${j.job} · ${j.name}`),
      el("div", { class: "hint" }, `${j.kind} · epoch ${j.next_block_epoch} · `,
         el("span", { class: "phase" }, String(j.next_block_phase).replace(/_/g, " ")),
         ` · block ${offset + 1} of ${j.tempo}`),
      el("div", { class: "progress" }, progressBar(offset / j.tempo)),
      kv([["uids", `${j.n_uids} of ${j.max_uids}`], ["registration burn", coins(j.burn)],
          ["reward pool", coins(j.pool)], ["last epoch paid", j.last_epoch_processed < 0 || j.last_epoch_processed === null
            ? "none yet" : epochLink(j.job, j.last_epoch_processed)],
          ["checkpoint", j.checkpoint ? el("span", {}, mono(short(j.checkpoint.hash, 12)), ` (epoch ${j.checkpoint.epoch})`)
                                      : "none yet"]]));
  }));
}

function progressBar(fraction) {
  const bar = el("div");
  bar.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  return bar;
}

function roleTags(row) {
  const tags = [];
  if (row.role) tags.push(tag(row.role, row.role));
  else if (row.validator_permit) tags.push(tag("validator permit", "validator"));
  if (row.adversary) tags.push(" ", tag(`adversary: ${row.adversary}`, "adversary"));
  return tags.length ? tags : "–";
}

async function refreshMetagraph() {
  for (const [job, id] of [[0, "metagraph"], [1, "metagraph1"]]) {
    const metagraph = await api(`metagraph/${job}`);
    const rows = metagraph.uids.map((u) => el("tr", { class: u.adversary ? "adversary" : null, "data-uid": u.uid },
      el("td", {}, u.uid), el("td", {}, addressLink(u.address)), el("td", {}, roleTags(u)),
      el("td", { class: "num" }, coinsShort(u.stake)), el("td", { class: "num" }, pct(u.incentive)),
      el("td", { class: "num" }, pct(u.dividends)), el("td", { class: "num" }, coinsShort(u.emission)),
      el("td", { class: "num" }, coinsShort(u.total_earned))));
    $(id).querySelector("tbody").replaceChildren(...rows);
    $(`${id}-empty`).hidden = rows.length > 0;
  }
}

// ---------------------------------------------------------------- epochs: loss chart and rewards
async function refreshDevnet() {
  const live = await api("devnet");
  const text = JSON.stringify(live);
  if (text === state.liveText) return false;
  state.liveText = text;
  state.live = live;
  drawLossChart(live);
  renderRewards(live);
  return true;
}

function drawLossChart(live) {
  const points = [];
  if (live.initial_heldout_loss !== null) points.push({ label: "start", loss: live.initial_heldout_loss, start: true });
  for (const e of live.epochs) {
    // rounds inside the epoch: one point per round, the last one being the epoch's checkpoint on chain
    if (e.rounds && e.rounds.length > 1) {
      for (const r of e.rounds) points.push({ label: `${e.epoch}.${r.round}`, loss: r.heldout_loss, round: r, epoch: e.epoch });
    } else if (e.heldout_loss !== null) points.push({ label: String(e.epoch), loss: e.heldout_loss });
  }
  const W = 560, H = 260, left = 52, right = 16, top = 16, bottom = 36;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "held-out loss per epoch" });
  if (!points.length) {
    chart.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty-text" },
                     "the loss curve appears when the first epoch finishes"));
    $("loss-chart").replaceChildren(chart);
    $("loss-caption").textContent = "";
    return;
  }
  const losses = points.map((p) => p.loss);
  let low = Math.min(...losses), high = Math.max(...losses);
  const pad = Math.max((high - low) * 0.12, 0.02);
  low -= pad; high += pad;
  const x = (i) => left + (points.length === 1 ? (W - left - right) / 2 : i * (W - left - right) / (points.length - 1));
  const y = (v) => top + (high - v) / (high - low) * (H - top - bottom);
  for (let k = 0; k <= 4; k++) {
    const v = low + (high - low) * k / 4;
    chart.append(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }),
                 svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, v.toFixed(2)));
  }
  chart.append(svg("line", { x1: left, x2: left, y1: top, y2: H - bottom, class: "axis" }),
               svg("line", { x1: left, x2: W - right, y1: H - bottom, y2: H - bottom, class: "axis" }));
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.loss).toFixed(1)}`).join(" ");
  chart.append(svg("path", { d: `${path} L${x(points.length - 1)},${H - bottom} L${x(0)},${H - bottom} Z`, class: "area" }),
               svg("path", { d: path, class: "line" }));
  const every = Math.ceil(points.length / 12);
  points.forEach((p, i) => {
    chart.append(svg("circle", { cx: x(i), cy: y(p.loss), r: 4, class: p.start ? "dot start" : "dot" },
                     svg("title", {}, `${p.start ? "initial checkpoint" : p.round ? `after round ${p.round.round} of epoch ${p.epoch} (${p.round.artifacts} artifacts)` : "after epoch " + p.label}: ${p.loss.toFixed(4)}`)));
    if (i % every === 0 || i === points.length - 1) {
      chart.append(svg("text", { x: x(i), y: H - bottom + 16, "text-anchor": "middle", class: "tick" }, p.label));
    }
  });
  const last = points[points.length - 1];
  chart.append(svg("text", { x: x(points.length - 1) - 6, y: y(last.loss) - 10, "text-anchor": "end", class: "label" },
                   last.loss.toFixed(3)));
  const byRound = points.some((p) => p.round);
  chart.append(svg("text", { x: (left + W - right) / 2, y: H - 4, "text-anchor": "middle", class: "tick" },
                   byRound ? "epoch.round" : "epoch"));
  $("loss-chart").replaceChildren(chart);
  const first = points[0];
  const change = first.loss ? ((last.loss - first.loss) / first.loss) * 100 : 0;
  $("loss-caption").textContent = points.length > 1
    ? `held-out loss (nats/byte) ${first.loss.toFixed(3)} → ${last.loss.toFixed(3)} (${change.toFixed(1)}%) ` +
      `over ${live.epochs.length} epoch${live.epochs.length === 1 ? "" : "s"}`
    : `held-out loss (nats/byte): ${first.loss.toFixed(3)}`;
}

function renderRewards(live) {
  const table = $("rewards");
  $("rewards-empty").hidden = live.epochs.length > 0;
  if (!live.epochs.length) {
    table.querySelector("thead").replaceChildren();
    table.querySelector("tbody").replaceChildren();
    return;
  }
  const shown = live.epochs.slice(-REWARD_EPOCHS_SHOWN);
  const latest = live.epochs[live.epochs.length - 1];
  const earned = new Map(); // uid -> emission summed over every epoch in the file
  for (const e of live.epochs) for (const u of e.uids) earned.set(u.uid, (earned.get(u.uid) || 0) + u.emission);
  const total = [...earned.values()].reduce((a, b) => a + b, 0);
  table.querySelector("thead").replaceChildren(el("tr", {},
    el("th", {}, "uid"), el("th", {}, "role"), el("th", {}, "hotkey"),
    shown.map((e) => el("th", { class: "num" }, epochLink(0, e.epoch))),
    el("th", { class: "num" }, "share"), el("th", { class: "num" }, "total earned")));
  table.querySelector("tbody").replaceChildren(...latest.uids.map((u) => {
    const perEpoch = shown.map((e) => {
      const row = e.uids.find((r) => r.uid === u.uid);
      return el("td", { class: "num", title: row ? `incentive ${pct(row.incentive)}, dividends ${pct(row.dividends)}` : "" },
                row ? coinsShort(row.emission) : "–");
    });
    const share = total ? (earned.get(u.uid) || 0) / total : 0;
    return el("tr", { class: u.adversary ? "adversary" : null, "data-uid": u.uid },
      el("td", {}, u.uid), el("td", {}, roleTags(u)), el("td", {}, addressLink(u.address, short(u.address, 8))), perEpoch,
      el("td", { class: "num" }, pct(share)), el("td", { class: "num amount" }, coinsShort(u.total_earned)));
  }));
}

// ---------------------------------------------------------------- polling and events
async function tick() {
  let liveChanged = false;
  try {
    liveChanged = await refreshDevnet(); // the devnet's file is there even while the node is not
  } catch (error) {
    $("loss-caption").textContent = `The devnet's progress file cannot be read: ${error.message}`;
  }
  try {
    const status = await api("status");
    renderStatus(status);
    setLive(true);
    const newTip = status.bestblockhash !== state.best;
    if (newTip) {
      state.height = status.height;
      state.best = status.bestblockhash;
      await Promise.all([refreshBlocks(), refreshJobs()]);
      if (parseRoute()) showRoute(true);
    }
    if (newTip || liveChanged) await refreshMetagraph();
  } catch (error) {
    setLive(false, error.message);
  } finally {
    setTimeout(tick, POLL_MS);
  }
}

async function search(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) return;
  try {
    const found = await api(`search?q=${encodeURIComponent(query)}`);
    location.hash = `#/${found.kind === "account" ? "account" : found.kind}/${found.id}`;
  } catch (error) {
    $("detail-title").textContent = "Nothing found";
    $("detail").replaceChildren(el("p", { class: "error" }, `“${query}”: ${error.message}`));
  }
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-route]");
  if (!target) return;
  event.preventDefault();
  const hash = `#/${target.getAttribute("data-route")}`;
  if (location.hash === hash) showRoute(false);
  else location.hash = hash;
});
window.addEventListener("hashchange", () => showRoute(false));
$("search").addEventListener("submit", search);
showRoute(false);
tick();
