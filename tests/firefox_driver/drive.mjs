// Debian's stock Firefox driven over WebDriver BiDi by Puppeteer (no geckodriver), for tests/support/engines.py:
// one JSON command a line on stdin ({"command": "open" | "goto" | "evaluate" | "close", "argument": ...}), one
// JSON answer a line on stdout ({"value": ...} or {"error": "..."}), the first once Firefox is up. "open" starts a
// private window (a user context: cookies and storage of its own) in place of the last; stdin closed: Firefox quits.
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const [executablePath, userAgent] = process.argv.slice(2);
const answer = (message) => process.stdout.write(JSON.stringify(message) + "\n");

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath,
  headless: true,
  protocolTimeout: 30000,
  extraPrefsFirefox: { "general.useragent.override": userAgent },
});
let context = null;
let page = null;
const commands = {
  open: async () => {
    await context?.close();
    context = await browser.createBrowserContext();
    page = await context.newPage();
    return null;
  },
  close: async () => {
    await context?.close();
    context = page = null;
    return null;
  },
  goto: async (url) => {
    await page.goto(url);
    return null;
  },
  evaluate: (expression) => page.evaluate(expression),
};

answer({ value: await browser.version() });
for await (const line of createInterface({ input: process.stdin })) {
  const { command, argument } = JSON.parse(line);
  try {
    answer({ value: await commands[command](argument) });
  } catch (error) {
    answer({ error: String(error.message ?? error) });
  }
}
await browser.close();
