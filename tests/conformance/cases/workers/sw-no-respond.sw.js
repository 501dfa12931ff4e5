// A service worker whose listener never calls respondWith.
addEventListener("fetch", () => {});
