/** Types for the `express4` devDependency alias (npm:express@4): the same API as `express`. */
declare module "express4" {
  import express = require("express");
  export = express;
}
