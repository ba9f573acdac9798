/** What every page module provides to the shell. */
export {};
