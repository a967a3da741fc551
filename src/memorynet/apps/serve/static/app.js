// memorynet serve: the page. Plain JavaScript, no dependencies; every number shown comes from the JSON API.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, pixels: null, memoryOffset: 0, asking: false, askAgain: false };

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    throw new Error(data.error || response.statusText);
  }
  return data;
}

function say(text) { $("status").textContent = text; }

async function guarded(action) {
  try { await action(); } catch (error) { say("error: " + error.message); }
}

// ------------------------------------------------------------------------------------------------ images

function neuronCanvas(pixels, shape) {
  const [height, width] = shape.slice(-2);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const rgb = pixels.length === 3 * width * height;
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) { image.data[4 * i + c] = rgb ? pixels[3 * i + c] : pixels[i]; }
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

function figure(neuron, shape, caption, cls) {
  const element = document.createElement("figure");
  if (cls) { element.className = cls; }
  element.appendChild(neuronCanvas(neuron.pixels, shape));
  const text = document.createElement("figcaption");
  text.textContent = caption;
  element.appendChild(text);
  element.title = `neuron ${neuron.row}, class ${neuron.name}, ${neuron.counter} inputs`;
  return element;
}

// ------------------------------------------------------------------------------------------------ the model

async function loadInfo() {
  const info = await api("/api/model");
  state.info = info;
  const [channels, height, width] = info.image_shape;
  $("summary").textContent = `${info.estimator} on ${info.preprocessing} — ${info.neurons} neurons in ` +
    `${info.banks} bank${info.banks > 1 ? "s" : ""} of at most ${info.budget_per_bank}, ${info.classes.length} ` +
    `classes, ${info.samples_seen} inputs seen, ${info.lessons} lesson${info.lessons === 1 ? "" : "s"} ` +
    `(file ${info.file})`;
  $("undo-button").disabled = !info.can_undo;
  $("seen").width = width;
  $("seen").height = height;
  if (channels > 1) { $("ask-hint").textContent = "Upload a colour image (or draw: the drawing is grey)."; }
  const select = $("class-select");
  const chosen = select.value;
  select.innerHTML = '<option value="">all</option>';
  $("label-list").innerHTML = "";
  $("class-sizes").innerHTML = "";
  // labelled memories: neurons per class; a feature stage and readout: images the readout learnt per class
  $("class-label").hidden = !info.labelled;
  for (const c of info.classes) {
    const size = info.labelled ? c.neurons : c.images;
    select.add(new Option(`${c.name} (${size})`, c.index));
    $("label-list").appendChild(new Option(c.name));
    const text = document.createElement("span");
    text.textContent = `${c.name}: ${size}${info.labelled ? "" : " images"}`;
    $("class-sizes").appendChild(text);
  }
  select.value = info.labelled ? chosen : "";
  if (info.banks > 1 && $("position-select").options.length === 0) {
    $("position-label").hidden = false;
    info.corners.forEach((corner, i) => $("position-select").add(new Option(`${i}: row ${corner[0]}, column ${corner[1]}`, i)));
    $("position-select").value = Math.floor(info.banks / 2);
  }
}

function position() {
  const value = $("position-select").value;
  return value === "" ? null : Number(value);
}

async function loadMemory(append) {
  state.memoryOffset = append ? state.memoryOffset : 0;
  const query = new URLSearchParams({ sort: $("sort-select").value, offset: state.memoryOffset, limit: 60 });
  if ($("class-select").value !== "") { query.set("label", $("class-select").value); }
  if (position() !== null) { query.set("position", position()); }
  const page = await api("/api/memory?" + query);
  const grid = $("neurons");
  if (!append) { grid.innerHTML = ""; }
  for (const neuron of page.neurons) { grid.appendChild(figure(neuron, page.shape, `${neuron.name} · ${neuron.counter}`)); }
  state.memoryOffset += page.neurons.length;
  $("more-button").disabled = state.memoryOffset >= page.total;
}

// ------------------------------------------------------------------------------------------------ drawing

const canvas = $("canvas");
const pen = canvas.getContext("2d");
let drawing = false;

function clearCanvas() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  state.pixels = null;
  $("seen").getContext("2d").clearRect(0, 0, $("seen").width, $("seen").height);
  $("prediction").textContent = "—";
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  pen.beginPath();
  pen.moveTo(x, y);
  pen.lineTo(x, y);
  stroke();
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) { return; }
  const [x, y] = point(event);
  pen.lineTo(x, y);
  stroke();
});
for (const name of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(name, () => { if (drawing) { drawing = false; fromDrawing(); ask(); } });
}

function stroke() {
  pen.strokeStyle = "#fff";
  pen.lineWidth = canvas.width / 14;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.stroke();
  fromDrawing();
  ask();
}

// The drawing as the model's data were made (MNIST style): the ink's bounding box scaled into the central 20/28 of
// the image, then shifted so that its centre of mass is the image centre. Returns grey values 0-255, row-major.
function fromDrawing() {
  const [, height, width] = state.info.image_shape;
  const ink = pen.getImageData(0, 0, canvas.width, canvas.height).data;
  let top = canvas.height, bottom = -1, left = canvas.width, right = -1;
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      if (ink[4 * (y * canvas.width + x)] > 0) {
        top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) { state.pixels = null; return; }
  const side = Math.max(bottom - top + 1, right - left + 1);
  const scale = (20 / 28) * Math.min(width, height) / side;
  const boxWidth = Math.max(1, Math.round((right - left + 1) * scale));
  const boxHeight = Math.max(1, Math.round((bottom - top + 1) * scale));
  const box = document.createElement("canvas");
  box.width = boxWidth;
  box.height = boxHeight;
  const boxContext = box.getContext("2d");
  boxContext.imageSmoothingQuality = "high";
  boxContext.drawImage(canvas, left, top, right - left + 1, bottom - top + 1, 0, 0, boxWidth, boxHeight);
  const values = boxContext.getImageData(0, 0, boxWidth, boxHeight).data;
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < boxHeight; y++) {
    for (let x = 0; x < boxWidth; x++) { const v = values[4 * (y * boxWidth + x)]; mass += v; mx += v * x; my += v * y; }
  }
  const seen = $("seen").getContext("2d");
  seen.fillStyle = "#000";
  seen.fillRect(0, 0, width, height);
  seen.drawImage(box, Math.round(width / 2 - mx / mass - 0.5), Math.round(height / 2 - my / mass - 0.5));
  const data = seen.getImageData(0, 0, width, height).data;
  state.pixels = Array.from({ length: width * height }, (_, i) => data[4 * i]);
}

$("upload").addEventListener("change", () => {
  const file = $("upload").files[0];
  if (!file) { return; }
  const image = new Image();
  image.onload = () => {
    const [channels, height, width] = state.info.image_shape;
    pen.drawImage(image, 0, 0, canvas.width, canvas.height);
    const seen = $("seen").getContext("2d");
    seen.drawImage(image, 0, 0, width, height);
    const data = seen.getImageData(0, 0, width, height).data;
    const planes = channels === 1 ? [null] : [0, 1, 2];
    state.pixels = planes.flatMap((c) => Array.from({ length: width * height }, (_, i) =>
      c === null ? Math.round((data[4 * i] + data[4 * i + 1] + data[4 * i + 2]) / 3) : data[4 * i + c]));
    URL.revokeObjectURL(image.src);
    ask();
  };
  image.src = URL.createObjectURL(file);
});

// ------------------------------------------------------------------------------------------------ ask

async function ask() {
  if (!state.pixels) { return; }
  if (state.asking) { state.askAgain = true; return; }  // one request in flight; the latest drawing follows it
  state.asking = true;
  try {
    const answer = await api("/api/predict", { pixels: state.pixels, position: position() });
    showAnswer(answer);
  } catch (error) {
    say("error: " + error.message);
  } finally {
    state.asking = false;
    if (state.askAgain) { state.askAgain = false; ask(); }
  }
}

function showAnswer(answer) {
  $("prediction").textContent = answer.prediction.name;
  const body = $("class-table").tBodies[0];
  body.innerHTML = "";
  // the model's own evidence per class: distances (smaller is better) or discriminants (larger is better)
  $("evidence-name").textContent = answer.evidence.name;
  const larger = answer.evidence.larger_is_better;
  const finite = answer.classes.map((c) => c.evidence).filter(Number.isFinite);
  const low = larger ? Math.min(...finite) : 0;
  const span = Math.max(Math.max(...finite) - low, 1e-12);
  const order = [...answer.classes].sort((a, b) => (larger ? b.evidence - a.evidence : a.evidence - b.evidence));
  for (const c of order) {
    const row = body.insertRow();
    if (c.index === answer.prediction.index) { row.className = "best"; }
    row.insertCell().textContent = c.name;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Number.isFinite(c.evidence) ? 120 * (c.evidence - low) / span : 0}px`;
    const cell = row.insertCell();
    cell.appendChild(bar);
    cell.append(Number.isFinite(c.evidence) ? c.evidence.toPrecision(4) : "not learnt");
    row.insertCell().textContent = c.score.toFixed(3);
  }
  $("nearest-where").textContent = state.info.banks > 1 ? `(position ${answer.position})` : "";
  const grid = $("nearest");
  grid.innerHTML = "";
  const shape = state.info.bank_shape;
  for (const n of answer.nearest) { grid.appendChild(figure(n, shape, `${n.name} · d=${n.distance.toPrecision(3)}`)); }
}

// ------------------------------------------------------------------------------------------------ teach, undo, save

async function teach() {
  const label = $("label-input").value.trim();
  if (!state.pixels) { say("draw or upload an image first"); return; }
  if (!label) { say("type a label first"); return; }
  const lesson = await api("/api/teach", { pixels: state.pixels, label, position: position() });
  const box = $("lesson");
  box.innerHTML = "";
  const text = document.createElement("p");
  const learnt = `Learnt as "${lesson.class.name}"${lesson.class.new ? " (a new class)" : ""}.`;
  box.appendChild(text);
  if (lesson.neuron === null) {  // a readout learnt it: its prototypes do not move
    text.textContent = `${learnt} The readout now holds ${lesson.images} image${lesson.images === 1 ? "" : "s"} of it.`;
    say(`lesson learnt: ${lesson.class.name}`);
    await refresh();
    return;
  }
  const n = lesson.neuron;
  const what = n.grew ? "grew a new neuron" : `moved neuron ${n.row} by ${n.shift.toPrecision(3)} (now ${n.counter} inputs)`;
  const where = state.info.banks > 1
    ? ` At position ${lesson.position} it ${what}; over all ${state.info.banks} positions: ${lesson.banks_grew} grew, ` +
      `${lesson.banks_moved} moved` + (lesson.mean_shift === null ? "." : ` (mean shift ${lesson.mean_shift.toPrecision(3)}).`)
    : ` It ${what}.`;
  text.textContent = learnt + where;
  box.appendChild(figure(n, state.info.bank_shape, `${n.name} · ${n.counter}`, n.grew ? "grew" : "moved"));
  say(`lesson learnt: ${lesson.class.name}`);
  await refresh();
}

async function refresh() {
  await loadInfo();
  await loadMemory(false);
  await ask();
}

$("teach-button").addEventListener("click", () => guarded(teach));
$("label-input").addEventListener("keydown", (event) => { if (event.key === "Enter") { guarded(teach); } });
$("clear-button").addEventListener("click", clearCanvas);
$("undo-button").addEventListener("click", () => guarded(async () => {
  await api("/api/undo", {});
  say("the last lesson was undone");
  $("lesson").innerHTML = "";
  await refresh();
}));
for (const [id, overwrite] of [["save-button", false], ["overwrite-button", true]]) {
  $(id).addEventListener("click", () => guarded(async () => {
    if (overwrite && !window.confirm(`Replace ${state.info.file} with the model as it is now?`)) { return; }
    const saved = await api("/api/save", { overwrite });
    say(`saved ${saved.file}`);
  }));
}
for (const id of ["class-select", "sort-select"]) { $(id).addEventListener("change", () => guarded(() => loadMemory(false))); }
$("position-select").addEventListener("change", () => guarded(async () => { await loadMemory(false); await ask(); }));
$("more-button").addEventListener("click", () => guarded(() => loadMemory(true)));

clearCanvas();
guarded(async () => { await loadInfo(); await loadMemory(false); say("ready"); });
