import { benchKernels } from '../../../bench/kernels.ts';
console.log(await benchKernels(2, 1));
