/** Long analyses run as server jobs: start, follow the progress, take the report. */
import { ApiError, api, get, post } from "./api.js";
/**
 * Starts a job (`POST /jobs/<analysis>`), polls it until it ends, and returns its report.
 * `progress` hears every poll; aborting `signal` cancels the job on the server.
 */
export async function runJob(analysis, body, progress, signal) {
    let job = await post(`/jobs/${analysis}`, body);
    const cancel = () => {
        void api("DELETE", `/jobs/${job.id}`).catch(() => { });
    };
    signal.addEventListener("abort", cancel);
    try {
        while (job.state === "running") {
            progress(job);
            await new Promise((r) => setTimeout(r, 800));
            if (signal.aborted)
                throw new DOMException("left the page", "AbortError");
            job = await get(`/jobs/${job.id}`, signal);
        }
    }
    finally {
        signal.removeEventListener("abort", cancel);
    }
    progress(job);
    if (job.state === "done")
        return job.result;
    const e = job.error;
    throw new ApiError(e?.status ?? 500, e?.code ?? job.state, e?.message ?? `the ${analysis} job ${job.state}`, e?.where ?? null);
}
