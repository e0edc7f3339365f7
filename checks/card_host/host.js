// A small MCP Apps host for the card's browser check: the official MCP client over streamable HTTP
// (a same-origin proxy to the server), the published AppBridge, and a sandbox page on a second origin.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { AppBridge, PostMessageTransport, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";

const EXTENSION = "io.modelcontextprotocol/ui";
const MIME = "text/html;profile=mcp-app";
const log = (window.hostLog = []);

async function connect(server, apps) {
  const capabilities = apps ? { extensions: { [EXTENSION]: { mimeTypes: [MIME] } } } : {};
  const client = new Client({ name: "card-test-host", version: "1.0.0" }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(`/mcp/${server}`, location.href)));
  return client;
}

// Connect, list tools, call generate_image; render the card when the tool is bound to one.
window.runTool = async function runTool({ server, apps, args, theme = "light", width = 720 }) {
  document.body.classList.toggle("dark", theme === "dark");
  document.documentElement.style.setProperty("--card-width", `${width}px`);
  const client = await connect(server, apps);
  const tools = (await client.listTools()).tools;
  const tool = tools.find((t) => t.name === "generate_image");
  const uri = getToolUiResourceUri(tool);
  const summary = { tools: tools.map((t) => ({ name: t.name, meta: t._meta ?? null })), uri: uri ?? null };
  if (!uri) {
    summary.result = await client.callTool({ name: "generate_image", arguments: args });
    return summary;
  }
  const resource = (await client.readResource({ uri })).contents[0];
  const ui = (resource._meta && resource._meta.ui) || {};
  const slot = document.getElementById("slot");
  const iframe = document.createElement("iframe");
  iframe.title = "image card";
  slot.replaceChildren(iframe);
  const hostContext = { theme, platform: "web", displayMode: "inline", availableDisplayModes: ["inline"],
                        containerDimensions: { maxWidth: width }, locale: "en-US", toolInfo: { tool } };
  const bridge = new AppBridge(client, { name: "card-test-host", version: "1.0.0" }, {
    openLinks: {}, downloadFile: {}, serverTools: {}, serverResources: {}, logging: {},
    updateModelContext: { text: {} }, message: { text: {} },
  }, { hostContext });
  window.hostContext = hostContext;
  bridge.onopenlink = async (params) => { log.push({ method: "ui/open-link", params }); return {}; };
  bridge.ondownloadfile = async (params) => { log.push({ method: "ui/download-file", params }); return {}; };
  bridge.onupdatemodelcontext = async (params) => { log.push({ method: "ui/update-model-context", params }); return {}; };
  bridge.onmessage = async (params) => { log.push({ method: "ui/message", params }); return {}; };
  bridge.addEventListener("sizechange", ({ height }) => { if (height) iframe.style.height = `${height}px`; });
  const ready = new Promise((resolve) => bridge.addEventListener("sandboxready", resolve));
  const initialized = new Promise((resolve) => bridge.addEventListener("initialized", resolve));
  const sandbox = new URL(window.SANDBOX_URL);
  sandbox.searchParams.set("host", location.origin);
  iframe.src = sandbox.href;
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  await ready;
  await bridge.sendSandboxResourceReady({ html: resource.text, csp: ui.csp, permissions: ui.permissions });
  await initialized;
  await bridge.sendToolInput({ arguments: args });
  const result = await client.callTool({ name: "generate_image", arguments: args });
  await bridge.sendToolResult(result);
  window.bridge = bridge;
  summary.result = result;
  summary.resourceMime = resource.mimeType;
  summary.resourceMeta = resource._meta ?? null;
  return summary;
};

// One call of a connected-but-plain host, for comparing results byte for byte.
window.callPlain = async function callPlain({ server, apps, args }) {
  const client = await connect(server, apps);
  return client.callTool({ name: "generate_image", arguments: args });
};

window.setTheme = (theme) => {
  document.body.classList.toggle("dark", theme === "dark");
  window.hostContext = { ...window.hostContext, theme };
  window.bridge.setHostContext(window.hostContext);
};
window.hostReady = true;
