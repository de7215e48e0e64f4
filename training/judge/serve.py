"""A small OpenAI-compatible chat-completions server for a local model (the wire format vLLM and
`transformers serve` speak), so the judge's HTTP path can be run and tested where no vLLM exists:

    python -m training.judge.serve --model runs/demo/model --port 8000
    # judge config: backend: openai, base_url: http://127.0.0.1:8000/v1, model: <the --name>

POST /v1/chat/completions (messages, max_tokens, temperature, seed, and vLLM's
`structured_outputs: {choice: [...]}`), GET /v1/models. One model, one request at a time (a lock):
for tests and small pilots; on a GPU use vLLM.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())  # clients send fields ignored here (top_p, n)
    model: str
    messages: list[Message]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    structured_outputs: dict | None = None


def build_app(model_dir: str, name: str, *, precision: str = "auto"):
    from fastapi import FastAPI, HTTPException

    from training.generate import GenerationSettings, generate_batch, load_for_generation
    from training.judge.backends import choose

    model, tokenizer = load_for_generation(model_dir, GenerationSettings(precision=precision))
    lock = threading.Lock()
    app = FastAPI(title="medalign judge server")

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "medalign"}]}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest) -> dict:  # sync: FastAPI runs it in a worker thread, the event loop stays free
        if request.model != name:
            raise HTTPException(404, detail=f"model {request.model!r} is not served here (serving {name!r})")
        prompt = "\n\n".join(m.content for m in request.messages)
        if getattr(tokenizer, "chat_template", None):
            prompt = tokenizer.apply_chat_template([m.model_dump() for m in request.messages], tokenize=False,
                                                   add_generation_prompt=True)
        choices = (request.structured_outputs or {}).get("choice")
        limit = request.max_completion_tokens or request.max_tokens or 64
        with lock:
            if choices:
                text, prompt_tokens, completion_tokens = choose(model, tokenizer, prompt, [str(c) for c in choices])
            else:
                temperature = request.temperature or 0.0
                settings = GenerationSettings(max_new_tokens=limit, do_sample=temperature > 0,
                                              temperature=temperature or 1.0, seed=request.seed or 0)
                texts, counts = generate_batch(model, tokenizer, [prompt], settings)
                text, completion_tokens = texts[0], counts[0]
                prompt_tokens = len(tokenizer(prompt)["input_ids"])
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": name, "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a local model over the OpenAI chat-completions API.")
    parser.add_argument("--model", required=True, help="model folder or hub id")
    parser.add_argument("--name", default=None, help="model name clients ask for (default: --model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(build_app(args.model, args.name or args.model, precision=args.precision), host=args.host,
                port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
