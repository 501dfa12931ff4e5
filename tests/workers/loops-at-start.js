// Never finishes evaluating: brink dev must stop it and refuse to start.
for (;;) {}
export default { fetch() { return new Response("never"); } };
