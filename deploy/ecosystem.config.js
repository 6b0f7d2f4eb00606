// pm2 process file for the TimeMoto pointage webhook (see deploy/README.md).
//   pm2 start deploy/ecosystem.config.js && pm2 save
// TIMEMOTO_WEBHOOK_SECRET and DATABASE_URL stay out of this file (it is in git): put them in
// <checkout>/.env (chmod 600), which the service reads itself, or export them before
// `pm2 start` (they are passed through below). HOST and PORT come from the same places
// (default 127.0.0.1:8000): nothing here needs editing.
//
// Reload without refusing a connection: `pm2 sendSignal SIGHUP timemoto-pointage` (the
// supervisor keeps the listening socket, starts a new worker, then stops the old one).
// `pm2 restart` and `pm2 reload` stop the whole process in fork mode: alone, for a second or two
// connections are refused. Behind nginx (deploy/nginx/) with two instances
// (POINTAGE_INSTANCES=2: ports PORT and PORT+1, default 8000 and 8001), `pm2 reload
// timemoto-pointage` restarts them one after the other, the next only once the first serves
// (wait_ready: the service tells pm2), and nginx passes deliveries to the one that serves.
// pm2 stops an app with SIGINT (then SIGKILL after kill_timeout); the service handles SIGINT
// as SIGTERM: requests in flight finish (up to 20 s), then it exits 0.
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const dataDir = path.join(root, ".data");
const passedThrough = [
  "TIMEMOTO_WEBHOOK_SECRET",
  "DATABASE_URL",
  "HOST",
  "PORT",
  "DATA_DIR",
  "SPOOL_DIR",
].filter((name) => process.env[name]);
const instances = Number(process.env.POINTAGE_INSTANCES || 1);
// Several instances: each its own port (pm2 adds its index to PORT) and its own spool.
const several = instances > 1 ? { increment_var: "PORT" } : {};
const firstPort = instances > 1 ? { PORT: String(process.env.PORT || 8000) } : {};

module.exports = {
  apps: [
    {
      name: "timemoto-pointage",
      cwd: root,
      script: path.join(root, ".venv", "bin", "python"),
      args: ["-m", "service", "serve"],
      interpreter: "none",
      exec_mode: "fork",
      instances,
      ...several,
      // An instance counts as started once it serves (it says so on pm2's channel), at the
      // latest after listen_timeout: pm2 reload then restarts the next.
      wait_ready: true,
      listen_timeout: 60000,
      autorestart: true,
      min_uptime: "10s",
      max_restarts: 10,
      exp_backoff_restart_delay: 200,
      // The supervisor alone gets pm2's signals; it stops its worker itself.
      treekill: false,
      // More than the 20 s in-flight requests get, plus the supervisor's margin (25 s).
      kill_timeout: 30000,
      merge_logs: true,
      env: {
        LOG_FORMAT: "json",
        DATA_DIR: dataDir,
        SPOOL_DIR: path.join(dataDir, "spool"),
        ...Object.fromEntries(passedThrough.map((name) => [name, process.env[name]])),
        ...firstPort,
      },
    },
  ],
};
