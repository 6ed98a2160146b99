/** Registers every gradient rule: math rules and structural (shape/index) rules. */
import './math-index.js';
import './shape-index.js';
