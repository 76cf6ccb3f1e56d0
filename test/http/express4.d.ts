/** Types for the `express4` alias (npm:express@4), used to run the router under Express 4. */
declare module "express4" {
  import express from "express";
  export default express;
}
