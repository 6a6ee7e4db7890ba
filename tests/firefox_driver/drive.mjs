// Debian's stock Firefox driven over WebDriver BiDi by Puppeteer (no geckodriver), for tests/support/engines.py:
// one JSON command a line on stdin ({"command": "goto" | "evaluate", "argument": ...}), one JSON answer a line
// on stdout ({"value": ...} or {"error": "..."}), the first answer once Firefox is ready; stdin closed = close.
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
const page = (await browser.pages())[0] ?? (await browser.newPage());
const commands = {
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
