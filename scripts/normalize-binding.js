#!/usr/bin/env node
'use strict'
// The napi CLI writes a random staging folder name (`.linux-x64-gnu.napi-stage-XXXXXX`)
// into the WASI fallback paths of the generated native/binding.js, so every build
// would dirty a tracked file. Replace it with the platform folder: same behaviour
// (no WASI build exists), stable output.
const fs = require('fs')
const path = require('path')
const file = path.join(__dirname, '..', 'native', 'binding.js')
const text = fs.readFileSync(file, 'utf8')
const fixed = text.replace(/\.([A-Za-z0-9_-]+)\.napi-stage-[A-Za-z0-9]+\//g, '$1/')
if (fixed !== text) fs.writeFileSync(file, fixed)
