// pm2 process file for the TimeMoto pointage webhook (see deploy/README.md).
//   pm2 start deploy/ecosystem.config.js && pm2 save
// TIMEMOTO_WEBHOOK_SECRET and DATABASE_URL stay out of this file (it is in git): put them in
// <checkout>/.env (chmod 600), which the service reads itself, or export them before
// `pm2 start` (they are passed through below).
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const dataDir = path.join(root, ".data");
const passedThrough = ["TIMEMOTO_WEBHOOK_SECRET", "DATABASE_URL"].filter(
  (name) => process.env[name],
);

module.exports = {
  apps: [
    {
      name: "timemoto-pointage",
      cwd: root,
      script: path.join(root, ".venv", "bin", "python"),
      args: [
        "-m", "uvicorn",
        "--factory", "service.app:create_app",
        "--host", "127.0.0.1",
        "--port", "8000",
        // In-flight requests get up to 20 s after SIGTERM; pm2 waits 30 s before SIGKILL.
        "--timeout-graceful-shutdown", "20",
        // Idle and half-sent connections cannot starve the webhook (README "Connections").
        "--http", "service.http.connections:GuardedHttpToolsProtocol",
        "--timeout-keep-alive", "5",
        "--limit-concurrency", "4096",
        "--h11-max-incomplete-event-size", "16384",
      ],
      interpreter: "none",
      exec_mode: "fork",
      instances: 1,
      autorestart: true,
      min_uptime: "10s",
      max_restarts: 10,
      exp_backoff_restart_delay: 200,
      kill_signal: "SIGTERM",
      kill_timeout: 30000,
      merge_logs: true,
      env: {
        LOG_FORMAT: "json",
        DATA_DIR: dataDir,
        SPOOL_DIR: path.join(dataDir, "spool"),
        ...Object.fromEntries(passedThrough.map((name) => [name, process.env[name]])),
      },
    },
  ],
};
