// The benchmarks' HTTP server: one nginx with one worker, everything under `prefix`.
export function nginxConf(prefix: string, servers: string): string {
  return `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
${servers}
}
`;
}

/** The seed backend's server: 200 "ok" on 10.0.0.2:8080. */
export const okServer = (prefix: string): string => nginxConf(prefix, '  server { listen 10.0.0.2:8080; location / { return 200 "ok\\n"; } }');
