// apprun's Node.js example: answers every request with a line naming the
// example, and finishes the requests in flight on SIGTERM.
"use strict";

const http = require("node:http");

const port = Number(process.env.PORT || 8080);

const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
  res.end("hello from node\n");
});

server.listen(port, "0.0.0.0", () => {
  console.log(`listening on 0.0.0.0:${port}`);
});

function stop(signal) {
  console.log(`${signal}: shutting down`);
  server.close(() => process.exit(0));
  // Idle keep-alive connections would hold close() open.
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 20000).unref();
}

process.on("SIGTERM", stop);
process.on("SIGINT", stop);
