// Responds, then spins forever in a timer: the isolate must be stopped and
// replaced without the server going down.
export default {
  fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === "/spin-later") {
      setTimeout(() => { for (;;) {} }, 10);
      return new Response("scheduled");
    }
    if (pathname === "/microtask-loop") {
      const spin = () => Promise.resolve().then(spin);
      spin();
      return new Promise(() => {});
    }
    return new Response("ok");
  },
};
