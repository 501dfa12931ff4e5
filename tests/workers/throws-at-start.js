throw new Error("failed during module evaluation");
export default { fetch() { return new Response("never"); } };
