// The benchmark page: the same element as the page, configured from the query
// (?backend=cpu&batch=4096&sheet=cube&runs=16&workers=1).
import './color-bottleneck.js';

const q = new URLSearchParams(location.search);
const el = document.createElement('color-bottleneck');
el.setAttribute('batch-size', q.get('batch') ?? '256');
el.setAttribute('backend', q.get('backend') ?? 'cpu');
el.setAttribute('compact', '');
el.setAttribute('runs', q.get('runs') ?? '1');
if (q.has('workers')) el.setAttribute('workers', q.get('workers'));
// ?sheet=cube: every step trains on full batches from the HSV cube (no 6-colour phase), so
// steps/s reflects the batch size.
if (q.get('sheet') === 'cube') {
  el.setAttribute('dopesheet', 'STEP,PHASE,ACTION,lr,loss-recon,reg-norm,data-fraction\n0,Full color space,,0.01,1,0.25,1\n1000000,,,,,,\n');
}
document.getElementById('slot').append(el);
