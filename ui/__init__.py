"""The Gradio chat app (`rag ui`): presentation only, over the public `rag` API."""
