import CFFmpeg
import Common
import Foundation

/// Deinterlaces decoded frames with libavfilter's bwdif (an AVFilterGraph `buffer → bwdif →
/// buffersink`, owned here and freed in deinit): one output frame per input frame, with its
/// timestamps; frames not flagged interlaced pass unchanged (`deint=interlaced`), the field
/// order comes from each frame (`parity=auto`). bwdif holds one frame back (it looks at the
/// next), so frames come out one call late and the last one after `finish`.
final class Deinterlacer {
    private let timeBase: AVRational
    private var graph: FilterGraph
    private var ended = false
    private let input = Frame()  // the decoded frame being handed over

    init(timeBase: AVRational, like frame: Frame) throws {
        self.timeBase = timeBase
        graph = try FilterGraph(timeBase: timeBase, like: frame)
    }

    /// The next deinterlaced frame into `frame`, pulling decoded frames from `decoder` as
    /// needed; false when the stream has ended.
    func next(into frame: Frame, from decoder: StreamDecoder) throws -> Bool {
        while true {
            if try graph.pull(into: frame) { return true }
            if ended { return false }
            if try decoder.next(into: input) {
                try push(input)
            } else {
                ended = true
                try graph.push(nil)
            }
        }
    }

    /// Gives one decoded frame to the filter. A frame whose size or pixel format differs from
    /// the graph's ends that graph (its held-back frame comes out first) and starts a new one.
    func push(_ frame: Frame) throws {
        if !graph.accepts(frame) {
            try graph.push(nil)
            let next = try FilterGraph(timeBase: timeBase, like: frame)
            next.pending = try graph.drain()
            graph = next
        }
        let f = frame.pointer
        // The graph times frames by pts; decoders put their best guess in best_effort_timestamp.
        if f.pointee.best_effort_timestamp != cals_nopts_value() { f.pointee.pts = f.pointee.best_effort_timestamp }
        try graph.push(frame)
    }
}

/// One configured `buffer → bwdif → buffersink` graph for frames of one size and pixel format.
private final class FilterGraph {
    private var graph: UnsafeMutablePointer<AVFilterGraph>?
    private var source: UnsafeMutablePointer<AVFilterContext>?
    private var sink: UnsafeMutablePointer<AVFilterContext>?
    private let width: Int32, height: Int32, format: Int32
    /// Frames of a previous graph still to be returned, oldest first.
    var pending: [Frame] = []

    init(timeBase: AVRational, like frame: Frame) throws {
        let f = frame.pointer.pointee
        (width, height, format) = (f.width, f.height, f.format)
        guard let graph = avfilter_graph_alloc() else { fatalError("avfilter_graph_alloc: out of memory") }
        self.graph = graph
        let aspect = f.sample_aspect_ratio.num > 0 && f.sample_aspect_ratio.den > 0 ? f.sample_aspect_ratio : AVRational(num: 1, den: 1)
        let arguments = "video_size=\(width)x\(height):pix_fmt=\(format):time_base=\(timeBase.num)/\(timeBase.den)"
            + ":pixel_aspect=\(aspect.num)/\(aspect.den)"
        try check(avfilter_graph_create_filter(&source, avfilter_get_by_name("buffer"), "in", arguments, nil, graph),
                  "deinterlacer input \(arguments)")
        var bwdif: UnsafeMutablePointer<AVFilterContext>?
        try check(avfilter_graph_create_filter(&bwdif, avfilter_get_by_name("bwdif"), "bwdif",
                                               "mode=send_frame:parity=auto:deint=interlaced", nil, graph), "bwdif")
        try check(avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", nil, nil, graph),
                  "deinterlacer output")
        try check(avfilter_link(source, 0, bwdif, 0), "linking deinterlacer input")
        try check(avfilter_link(bwdif, 0, sink, 0), "linking deinterlacer output")
        try check(avfilter_graph_config(graph, nil), "deinterlacing \(width)x\(height) frames")
    }

    deinit { avfilter_graph_free(&graph) }

    func accepts(_ frame: Frame) -> Bool {
        let f = frame.pointer.pointee
        return (f.width, f.height, f.format) == (width, height, format)
    }

    /// Hands `frame`'s picture to the graph (the frame is left empty); nil ends the input.
    func push(_ frame: Frame?) throws {
        try check(av_buffersrc_add_frame(source, frame?.pointer), "deinterlacing")
    }

    /// The next filtered frame into `frame`; false when none is ready yet or the graph ended.
    func pull(into frame: Frame) throws -> Bool {
        if !pending.isEmpty {
            av_frame_move_ref(frame.pointer, pending.removeFirst().pointer)
            return true
        }
        let status = av_buffersink_get_frame(sink, frame.pointer)
        if status == cals_averror_eagain() || status == cals_averror_eof() { return false }
        try check(status, "deinterlacing")
        return true
    }

    /// Every frame left in an ended graph, oldest first.
    func drain() throws -> [Frame] {
        var frames = pending
        pending = []
        while true {
            let frame = Frame()
            guard try pull(into: frame) else { return frames }
            frames.append(frame)
        }
    }
}
