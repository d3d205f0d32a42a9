/**
 * Renders the example frames of the reference world (docs/img/world-*.png): each example scene at
 * 384x192 (without sensor noise, which PNG compresses poorly, to keep the files small) and at the
 * default 192x96 (as the simulator sees it, noise included), plus the semantic mask of the
 * clear-day scene.
 * Run: node --import tsx bench/world-examples.ts [outDir]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/core/paths.js';
import { encodePng, encodePngPalette } from '../src/world/png.js';
import { renderCamera } from '../src/world/render/camera.js';
import { exampleScenes } from '../src/world/render/example-states.js';
import { SEMANTIC_PALETTE } from '../src/world/export-scene.js';

const outDir = process.argv[2] ?? join(packageRoot(), 'docs', 'img');
mkdirSync(outDir, { recursive: true });
for (const [w, h, suffix] of [
  [384, 192, ''],
  [192, 96, '-192x96'],
] as const) {
  for (const ex of exampleScenes(w, h)) {
    const f = renderCamera(ex.state, undefined, { noise: suffix !== '' });
    const file = join(outDir, `world-${ex.name}${suffix}.png`);
    writeFileSync(file, encodePng(f.rgb, f.width, f.height));
    const vis = f.visibility.filter((v) => v.bbox !== null).length;
    process.stdout.write(`${file}  ${vis}/${f.visibility.length} actors visible\n`);
    if (ex.name === 'clear-day-urban' && suffix === '') {
      const sem = join(outDir, `world-${ex.name}-semantic.png`);
      writeFileSync(sem, encodePngPalette(f.semantic, f.width, f.height, SEMANTIC_PALETTE));
      process.stdout.write(`${sem}\n`);
    }
  }
}
