import CDNNL
import Foundation

/// oneDNN's convolution called directly through the C API, the way a hand-written program
/// would: every layout left to the library (format_tag_any), memory allocated in exactly the
/// layouts the three primitives ask for, so nothing but `dnnl_primitive_execute` is timed.
final class BareConvolution {
    struct Shape {
        var input: [Int]          // N, C, H, W
        var outputChannels: Int
        var kernel: Int
        var stride: Int
        var padding: [Int]        // top, bottom, left, right
        var groups: Int

        var output: [Int] {
            let h = (input[2] + padding[0] + padding[1] - kernel) / stride + 1
            let w = (input[3] + padding[2] + padding[3] - kernel) / stride + 1
            return [input[0], outputChannels, h, w]
        }

        var weights: [Int] {
            groups == 1 ? [outputChannels, input[1], kernel, kernel]
                : [groups, outputChannels / groups, input[1] / groups, kernel, kernel]
        }
    }

    private let engine: dnnl_engine_t
    private let stream: dnnl_stream_t
    private var primitives: [dnnl_primitive_t] = []
    private var descriptors: [dnnl_primitive_desc_t] = []
    private var memories: [dnnl_memory_t] = []
    private var forwardArgs: [dnnl_exec_arg_t] = []
    private var backwardDataArgs: [dnnl_exec_arg_t] = []
    private var backwardWeightsArgs: [dnnl_exec_arg_t] = []
    private(set) var implementations: [String] = []

    init(_ shape: Shape) {
        var engine: dnnl_engine_t?, stream: dnnl_stream_t?
        Self.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
        Self.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
        self.engine = engine!
        self.stream = stream!

        let strides = Self.dims([shape.stride, shape.stride])
        let padLeft = Self.dims([shape.padding[0], shape.padding[2]])
        let padRight = Self.dims([shape.padding[1], shape.padding[3]])
        var src = Self.any(shape.input), weights = Self.any(shape.weights), dst = Self.any(shape.output)

        var forward = dnnl_convolution_desc_t()
        Self.check(dnnl_convolution_forward_desc_init(&forward, dnnl_forward_training, dnnl_convolution_direct,
                                                      &src, &weights, nil, &dst, strides, padLeft, padRight), "fwd desc")
        let forwardPD = makeDescriptor(&forward, hint: nil)

        var backwardData = dnnl_convolution_desc_t()
        Self.check(dnnl_convolution_backward_data_desc_init(&backwardData, dnnl_convolution_direct, &src, &weights,
                                                            &dst, strides, padLeft, padRight), "bwd data desc")
        let backwardDataPD = makeDescriptor(&backwardData, hint: forwardPD)

        var backwardWeights = dnnl_convolution_desc_t()
        Self.check(dnnl_convolution_backward_weights_desc_init(&backwardWeights, dnnl_convolution_direct, &src,
                                                               &weights, nil, &dst, strides, padLeft, padRight),
                   "bwd weights desc")
        let backwardWeightsPD = makeDescriptor(&backwardWeights, hint: forwardPD)

        forwardArgs = [arg(DNNL_ARG_SRC, forwardPD), arg(DNNL_ARG_WEIGHTS, forwardPD), arg(DNNL_ARG_DST, forwardPD)]
        backwardDataArgs = [arg(DNNL_ARG_DIFF_DST, backwardDataPD), arg(DNNL_ARG_WEIGHTS, backwardDataPD),
                            arg(DNNL_ARG_DIFF_SRC, backwardDataPD)]
        backwardWeightsArgs = [arg(DNNL_ARG_SRC, backwardWeightsPD), arg(DNNL_ARG_DIFF_DST, backwardWeightsPD),
                               arg(DNNL_ARG_DIFF_WEIGHTS, backwardWeightsPD)]
        for pd in [forwardPD, backwardDataPD, backwardWeightsPD] {
            var primitive: dnnl_primitive_t?
            Self.check(dnnl_primitive_create(&primitive, pd), "primitive")
            primitives.append(primitive!)
            var name: UnsafePointer<CChar>?
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name)
            implementations.append(name.map { String(cString: $0) } ?? "?")
        }
    }

    deinit {
        for p in primitives { dnnl_primitive_destroy(p) }
        for d in descriptors { dnnl_primitive_desc_destroy(d) }
        for m in memories {
            var handle: UnsafeMutableRawPointer?
            dnnl_memory_get_data_handle(m, &handle)
            dnnl_memory_destroy(m)
            free(handle)
        }
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    func forward() { run(0, &forwardArgs) }
    func backwardData() { run(1, &backwardDataArgs) }
    func backwardWeights() { run(2, &backwardWeightsArgs) }

    private func run(_ index: Int, _ args: inout [dnnl_exec_arg_t]) {
        Self.check(dnnl_primitive_execute(primitives[index], stream, Int32(args.count), &args), "execute")
        Self.check(dnnl_stream_wait(stream), "wait")
    }

    private func makeDescriptor(_ desc: UnsafeRawPointer, hint: dnnl_primitive_desc_t?) -> dnnl_primitive_desc_t {
        var pd: dnnl_primitive_desc_t?
        Self.check(dnnl_primitive_desc_create(&pd, desc, nil, engine, hint), "primitive descriptor")
        descriptors.append(pd!)
        return pd!
    }

    /// Memory in the layout the primitive wants for `argument`, filled with small random values
    /// (bare programs own their buffers; 64-byte aligned like oneDNN's own allocations).
    private func arg(_ argument: Int32, _ pd: dnnl_primitive_desc_t) -> dnnl_exec_arg_t {
        var md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, argument)!.pointee
        let size = max(dnnl_memory_desc_get_size(&md), 64)
        var raw: UnsafeMutableRawPointer?
        precondition(posix_memalign(&raw, 64, size) == 0)
        let floats = raw!.bindMemory(to: Float.self, capacity: size / 4)
        var state: UInt32 = 12345 &+ UInt32(argument)
        for i in 0..<(size / 4) {
            state = state &* 1_664_525 &+ 1_013_904_223
            floats[i] = Float(state >> 8) / Float(1 << 24) - 0.5
        }
        var memory: dnnl_memory_t?
        Self.check(dnnl_memory_create(&memory, &md, engine, raw), "memory")
        memories.append(memory!)
        return dnnl_exec_arg_t(arg: argument, memory: memory)
    }

    private static func any(_ shape: [Int]) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_tag(&md, Int32(shape.count), shape.map(Int64.init), dnnl_f32,
                                           dnnl_format_tag_any), "memory desc")
        return md
    }

    private static func dims(_ values: [Int]) -> [Int64] {
        values.map(Int64.init) + Array(repeating: 0, count: Int(DNNL_MAX_NDIMS) - values.count)
    }

    private static func check(_ status: dnnl_status_t, _ what: String) {
        guard status == dnnl_success else { fatalError("bare oneDNN: \(what) failed with status \(status.rawValue)") }
    }
}
