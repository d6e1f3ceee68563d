// @ts-check
/** The classroom routes: scenarios (lessons), replay and record controls, the kubectl console. */

import { getJSON, postJSON } from "./http.js";

/**
 * @typedef {{name: string, title: string, summary: string, steps: number}} ScenarioInfo
 * @typedef {{playing: boolean, speed: number, position: number, duration: number, stoppedAt: string|null}} ReplayState
 * @typedef {{recording: boolean, path: string|null, items: number, bytes: number, seconds: number,
 *   message: string|null}} RecordState
 */

/** GET api/scenarios → {scenarios, active}. */
export const scenarios = () => getJSON("api/scenarios");
/** @param {string} name */
export const startScenario = (name) => postJSON("api/scenarios/start", { name });
export const nextStep = () => postJSON("api/scenarios/next");
export const backStep = () => postJSON("api/scenarios/back");
export const restartScenario = () => postJSON("api/scenarios/restart");
export const stopScenario = () => postJSON("api/scenarios/stop");

export const replayState = () => getJSON("api/replay");
export const replayPlay = () => postJSON("api/replay/play");
export const replayPause = () => postJSON("api/replay/pause");
/** @param {number} speed */
export const replaySpeed = (speed) => postJSON("api/replay/speed", { speed });
/** @param {number} position */
export const replaySeek = (position) => postJSON("api/replay/seek", { position });

export const recordState = () => getJSON("api/record");
/** @param {string} [path] a plain file name; the server picks one when left out */
export const recordStart = (path) => postJSON("api/record/start", path ? { path } : {});
export const recordStop = () => postJSON("api/record/stop");

/** @param {string} command */
export const consoleRun = (command) => postJSON("api/console/run", { command });
export const consoleStatus = () => getJSON("api/console/status");
