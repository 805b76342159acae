"""A small Streamlit page over the spotdiff Python package: upload two images, see the
changes boxed on B and A | B side by side, the heatmap, the scores and the boxes.

    pip install ./python streamlit
    streamlit run examples/streamlit_app.py

Run it from the repository (or set ORT_DYLIB_PATH and SPOTDIFF_MODELS) so that the
package finds the deep-feature backbone; without one it compares with pixel + SSIM
evidence, as the command line does.
"""

import spotdiff
import streamlit as st


@st.cache_resource
def comparer() -> spotdiff.Comparer:
    # Loaded once per server process and shared by every session (thread-safe).
    return spotdiff.Comparer()


st.set_page_config(page_title="spotdiff", layout="wide")
st.title("spotdiff: what changed?")

left, right = st.columns(2)
a = left.file_uploader("Image A (before)", type=["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"])
b = right.file_uploader("Image B (after)", type=["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"])

with st.sidebar:
    st.header("Options")
    method = st.selectbox("Method", ["fused", "pixel", "ssim", "deep"])
    auto = st.checkbox("Automatic colour threshold (ΔE 12)", value=True)
    threshold = "auto" if auto else st.slider("Colour threshold (ΔE)", 1.0, 50.0, 12.0, 0.5)
    min_area = st.number_input("Minimum area (px)", min_value=1, value=12)
    size_policy = st.selectbox("When sizes differ", ["error", "resize", "pad"])
    color = st.color_picker("Box colour", "#ff0044")
    st.caption(f"Backbone: {comparer().model or 'none (pixel + SSIM)'}")

if a is None or b is None:
    st.info("Upload two images to compare them.")
    st.stop()

try:
    result = comparer().compare(
        a.getvalue(),
        b.getvalue(),
        method=method,
        threshold=threshold,
        min_area=int(min_area),
        size_policy=size_policy,
    )
except spotdiff.SpotdiffError as e:
    st.error(str(e))
    st.stop()

s = result.scores
st.subheader(
    {"identical": "Identical", "same": "No change above the thresholds"}.get(
        result.verdict, f"{len(result.boxes)} changed region{'s' if len(result.boxes) != 1 else ''}"
    )
)
m1, m2, m3, m4 = st.columns(4)
m1.metric("SSIM", f"{s.ssim:.4f}")
m2.metric("Changed pixels", f"{s.changed_pixel_ratio * 100:.2f} %")
m3.metric("Max ΔE", f"{s.max_delta_e:.1f}")
m4.metric("Semantic", "n/a" if s.semantic is None else f"{s.semantic:.3f}")

view = st.radio("Show", ["B with boxes", "heatmap", "filled", "mask"], horizontal=True)
picture = {"B with boxes": "b", "heatmap": "heatmap", "filled": "filled", "mask": "mask"}[view]
st.image(result.picture(picture, color=color))
st.image(result.side_by_side(color=color), caption="A | B")

if result.boxes:
    st.dataframe(
        [
            {
                "x": bx.x,
                "y": bx.y,
                "w": bx.w,
                "h": bx.h,
                "score (mean ΔE)": round(bx.score, 1),
                "peak ΔE": round(bx.peak_change, 1),
                "kind": bx.kind,
                "evidence": ", ".join(bx.evidence),
            }
            for bx in result.boxes
        ]
    )
st.download_button("JSON report", result.to_json(), file_name="report.json", mime="application/json")
