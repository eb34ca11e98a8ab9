#!/usr/bin/env node
console.log("vigil", process.argv.slice(2));
