// announcements.js — the organisers' announcements (accounts.Announcement) as banners on every page.
//
// Polls GET /api/announcements; the answer says when to ask again (`poll_after`, ANNOUNCEMENT_POLL_INTERVAL).
// Polling rather than the pages' WebSockets: every page needs it, the login page and the templates pages have no
// socket, and one small GET revalidated by ETag (304 while nothing changed) is cheaper than a socket per page.
// A dismissed announcement stays dismissed in this browser: its id is remembered in localStorage.

const ENDPOINT = "/api/announcements";
const STORAGE_KEY = "promptPortal.dismissedAnnouncements";
const KEEP_DISMISSED = 200; // ids remembered at most: old announcements are long gone
const DEFAULT_POLL_SECONDS = 30;
const RETRY_SECONDS = 60; // after a failed poll: a struggling server is not asked more often

const container = document.getElementById("announcements");
let shown = []; // the announcements of the latest poll
let timer = null;
let pollDue = false; // a poll fell due while the tab was hidden

function dismissedIds() {
  try {
    const ids = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
    return Array.isArray(ids) ? ids.filter(Number.isInteger) : [];
  } catch {
    return []; // storage blocked or its value mangled: nothing dismissed
  }
}

function dismiss(id) {
  const ids = dismissedIds().filter((known) => known !== id);
  ids.push(id);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(ids.slice(-KEEP_DISMISSED)));
  } catch {
    // Storage full or blocked: dismissed on this page only.
  }
  render();
}

function banner(announcement) {
  const item = document.createElement("div");
  item.className = `announcement announcement-${announcement.priority}`;
  item.dataset.announcementId = String(announcement.id);
  const text = document.createElement("div");
  text.className = "announcement-text";
  const title = document.createElement("strong");
  title.className = "announcement-title";
  title.textContent = announcement.title; // text, never HTML
  text.append(title);
  if (announcement.body) {
    const body = document.createElement("p");
    body.className = "announcement-body";
    body.textContent = announcement.body;
    text.append(body);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "announcement-dismiss";
  close.setAttribute("aria-label", `Dismiss: ${announcement.title}`);
  close.textContent = "×";
  close.addEventListener("click", () => dismiss(announcement.id));
  item.append(text, close);
  return item;
}

function render() {
  const dismissed = new Set(dismissedIds());
  const visible = shown.filter((a) => !dismissed.has(a.id));
  container.replaceChildren(...visible.map(banner));
  container.hidden = visible.length === 0;
}

function schedule(seconds) {
  clearTimeout(timer);
  timer = setTimeout(tick, Math.max(1, seconds) * 1000);
}

function tick() {
  if (document.hidden) {
    pollDue = true; // a hidden tab asks nothing; it catches up when shown again
    return;
  }
  poll();
}

async function poll() {
  pollDue = false;
  try {
    const response = await fetch(ENDPOINT, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    const latest = Array.isArray(data.announcements) ? data.announcements : [];
    // Only a change is rendered again: a screen reader announces the live region's changes, not each poll.
    if (JSON.stringify(latest) !== JSON.stringify(shown)) {
      shown = latest;
      render();
    }
    schedule(Number(data.poll_after) > 0 ? Number(data.poll_after) : DEFAULT_POLL_SECONDS);
  } catch {
    schedule(RETRY_SECONDS);
  }
}

if (container) {
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && pollDue) poll();
  });
  // Dismissed in another tab: gone here too.
  window.addEventListener("storage", (event) => {
    if (event.key === STORAGE_KEY) render();
  });
  poll();
}
