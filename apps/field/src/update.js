// Service worker registration and the "new version available" offer. A new
// version installs in the background when online and waits; the app offers a
// reload, which activates it. Records stay in IndexedDB, untouched.

let waiting = null;
const listeners = new Set();

function announce(worker) {
  waiting = worker;
  for (const fn of listeners) fn(worker);
}

/** Calls `fn(worker|null)` now and whenever a new version is ready. */
export function onUpdate(fn) {
  listeners.add(fn);
  fn(waiting);
  return () => listeners.delete(fn);
}

/** Activates the waiting version; the page reloads when it takes over. */
export function applyUpdate() {
  if (!waiting) return;
  navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
  waiting.postMessage({ type: 'skipWaiting' });
}

/** The version of the service worker controlling this page, or null. */
export function shellVersion() {
  const controller = navigator.serviceWorker?.controller;
  if (!controller) return Promise.resolve(null);
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), 1000);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      resolve(e.data);
    };
    controller.postMessage({ type: 'version' }, [channel.port2]);
  });
}

export async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  try {
    const registration = await navigator.serviceWorker.register('/field/sw.js', { scope: '/field' });
    const hadController = !!navigator.serviceWorker.controller;
    if (registration.waiting && hadController) announce(registration.waiting);
    registration.addEventListener('updatefound', () => {
      const worker = registration.installing;
      if (!worker) return;
      worker.addEventListener('statechange', () => {
        // The first install has no page to update: it just takes over.
        if (worker.state === 'installed' && navigator.serviceWorker.controller) announce(worker);
      });
    });
    // Look for a new version when the connection comes back.
    addEventListener('online', () => registration.update().catch(() => {}));
  } catch (error) {
    console.warn('service worker not registered:', error?.message ?? error);
  }
}
