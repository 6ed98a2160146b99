/** Registers the structural gradient rules: shape, indexing, selection and reduction ops. */
import './identity.js';
import './reshape.js';
import './flatten.js';
import './squeeze.js';
import './unsqueeze.js';
import './transpose.js';
import './cast.js';
import './expand.js';
import './tile.js';
import './concat.js';
import './split.js';
import './slice.js';
import './pad.js';
import './gather.js';
import './gather-elements.js';
import './gather-nd.js';
