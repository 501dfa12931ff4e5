// The worker's entry module. `brink dev` serves it (and reloads it when you
// save); `brink deploy` uploads it with everything it imports.

export interface Env {
  // brink.toml: [vars] GREETING
  GREETING: string;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") {
      return new Response("ok\n");
    }
    return new Response(`${env.GREETING} from {{name}}!\n`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
} satisfies ExportedHandler<Env>;
