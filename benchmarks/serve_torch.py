#!/usr/bin/python3
"""petal serve's Python twin for benchmarks/serve_load.sh: the same network (EfficientNet-Lite0 with the
head a Petal run trained, weights read from its model.safetensors) in PyTorch, behind the usual minimal
Python server (FastAPI + uvicorn, one worker).

  /usr/bin/python3 benchmarks/serve_torch.py --model RUN/model.safetensors --port 18081 --threads 2

POST /predict with one image (image/jpeg or image/png) as the body answers its top-5 classes as JSON,
as petal serve's /v1/models/NAME/predict does. Preprocessing is Petal's: decode, stretch to the input size
(PIL bilinear), (x - 127) / 128. GET /health answers {"ok": true}.
"""
import argparse
import importlib.util
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a Petal model file (.safetensors) or run folder (EfficientNet-Lite0)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18081)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(model_path):
    import torch
    import torch.nn as nn
    if os.path.isdir(model_path):
        model_path = os.path.join(model_path, "model.safetensors")
    fixtures = load_module("make_backbone_fixtures", os.path.join(ROOT, "scripts", "fixtures", "make_backbone_fixtures.py"))
    tensors, metadata = fixtures.read_safetensors(model_path)
    description = json.loads(metadata["petal_model"])
    names, size = description["classNames"], description["inputSize"]
    base = fixtures.build_lite0()
    del base._fc

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base
            self.fc = nn.Linear(1280, len(names))

        def forward(self, x):
            return self.fc(self.base.features(x).mean(dim=(2, 3)))

    model = Classifier().eval()
    state = {}
    petal = dict(tensors)
    for key, parameter in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        source = petal_name(key, petal)
        value = torch.from_numpy(petal.pop(source).astype("float32"))
        state[key] = value.reshape(parameter.shape)
    model.load_state_dict(state, strict=False)
    if petal:
        raise SystemExit(f"serve_torch.py: {model_path}: weights not used: {sorted(petal)[:5]}...")
    return model, names, size


def petal_name(torch_key, petal):
    """The Petal tensor name holding a PyTorch state-dict entry (Petal's Lite0 layers follow this port's names)."""
    key = torch_key[len("base."):] if torch_key.startswith("base.") else torch_key
    layer, field = key.rsplit(".", 1)
    candidates = {"weight": ["kernel", "weight", "gamma"], "bias": ["bias", "beta"],
                  "running_mean": ["moving_mean", "movingMean", "running_mean"],
                  "running_var": ["moving_variance", "movingVariance", "running_var"]}[field]
    if layer == "fc":
        layer_names = [n.rsplit("/", 1)[0] for n in petal]
        heads = sorted({n for n in layer_names if not n.startswith("_")})
        layer = heads[-1] if heads else layer
    for candidate in candidates:
        for separator in ("/", "."):
            name = layer + separator + candidate
            if name in petal:
                return name
    raise SystemExit(f"serve_torch.py: no Petal tensor for {torch_key} (tried {layer} with {candidates})")


def main():
    args = parse_args()
    import numpy as np
    import torch
    import uvicorn
    from fastapi import FastAPI, HTTPException, Request
    from PIL import Image

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model, names, size = build(args.model)
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"ok": True}

    @app.post("/predict")
    async def predict(request: Request):
        body = await request.body()
        try:
            image = Image.open(io.BytesIO(body)).convert("RGB").resize((size, size), Image.BILINEAR)
        except Exception as error:
            raise HTTPException(status_code=400, detail=f"not an image: {error}")
        x = torch.from_numpy(np.asarray(image)).permute(2, 0, 1).float().unsqueeze(0)
        with torch.no_grad():
            p = model((x - 127.0) / 128.0).softmax(dim=1)[0]
        values, indices = p.topk(min(5, len(names)))
        return {"predictions": [{"image": "body", "top": [
            {"class": names[i], "index": int(i), "probability": float(v)} for v, i in zip(values.tolist(), indices.tolist())]}]}

    print(f"serve_torch.py: {len(names)} classes at {size} px on http://{args.host}:{args.port}/predict", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
