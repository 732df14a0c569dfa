"""The main window: the funnel board with search, filters, menus, undo and a status bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QToolBar,
)

from nurturedesk import __version__
from nurturedesk.core import leads as lead_service
from nurturedesk.core.db import Workspace
from nurturedesk.core.events import LeadsChanged
from nurturedesk.core.leads import LeadData, LeadFilter
from nurturedesk.core.settings import get_setting, set_setting
from nurturedesk.core.stages import get_stage, list_stages
from nurturedesk.ui import scoring_ui
from nurturedesk.ui import settings as ui_settings
from nurturedesk.ui.board.view import BoardWidget
from nurturedesk.ui.bridge import EventBridge
from nurturedesk.ui.commands import (
    AddLeadCommand,
    DeleteLeadsCommand,
    EditLeadCommand,
    MoveLeadsCommand,
)
from nurturedesk.ui.lead_editor import LeadEditor
from nurturedesk.ui.stages_dialog import StagesDialog

SEARCH_DELAY_MS = 120  # wait for a pause in typing before querying
EXTERNAL_CHANGE_POLL_MS = 2000
ALL = ""


class FilterCombo(QComboBox):
    """A filter's choices, refreshed each time the list opens (tags and owners come and go)."""

    def __init__(self, refill: Callable[[], None]) -> None:
        super().__init__()
        self._refill = refill

    def showPopup(self) -> None:
        self._refill()
        super().showPopup()


class MainWindow(QMainWindow):
    openWorkspaceRequested = Signal(object)  # Path; the application switches workspaces
    quitting = False  # set by quit(): the close that follows is not a "close to tray"

    def __init__(self, workspace: Workspace, bridge: EventBridge) -> None:
        super().__init__()
        self.workspace = workspace
        self.bridge = bridge
        self.setWindowTitle(f"NurtureDesk — {workspace.display_name}")
        self.setMinimumSize(900, 560)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(200)
        self._undo_index = 0
        self._undo_top: QUndoCommand | None = None  # the step an Undo would take back
        self.undo_stack.indexChanged.connect(self._say_what_was_done)
        # Add-ons narrow the board's filter (segments) and reset with "Clear filters".
        self.filter_hooks: list[Callable[[LeadFilter], LeadFilter]] = []
        self.filter_resets: list[Callable[[], None]] = []
        self.board = BoardWidget(
            workspace,
            self.drop_leads,
            stale_days=int(get_setting(workspace, "stale_days")),
            parent=self,
        )
        self.board.leadActivated.connect(self.edit_lead)
        self.board.selectionChanged.connect(self._update_actions)
        self.board.selectionChanged.connect(self._update_status)
        self.board.refreshed.connect(self._on_board_refreshed)
        self.setCentralWidget(self.board)
        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filter)
        bridge.leadsChanged.connect(self._on_leads_changed)
        bridge.stagesChanged.connect(self.board.rebuild)
        bridge.stagesChanged.connect(self._update_status)
        bridge.settingsChanged.connect(self._on_settings_changed)
        # Changes made by another process (the command line, an import, the headless sender)
        # reach the board within a couple of seconds.
        self.workspace.changed_since_last_check()
        self._watch_timer = QTimer(self, interval=EXTERNAL_CHANGE_POLL_MS)
        self._watch_timer.timeout.connect(self._check_external_changes)
        self._watch_timer.start()
        from nurturedesk.ui.data_actions import install as install_data_actions

        install_data_actions(self)  # import, export, segments, bulk actions, personal data
        self._restore_geometry()
        self._update_actions()
        self._update_status()
        from nurturedesk.ui.nurture_menu import install_nurture_ui  # issue 3: nurture screens

        install_nurture_ui(self)
        self.scoring = scoring_ui.install(self)  # scores, markers, notices, activity panel

    # --- construction ------------------------------------------------------------------

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | list[str] | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda _checked=False: slot())
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _build_toolbar(self) -> None:
        bar = QToolBar("Board", self)
        bar.setObjectName("boardToolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.new_lead_action = self._action(
            "&New Lead…", self.new_lead, QKeySequence.StandardKey.New, "Add a lead (Ctrl+N)"
        )
        bar.addAction(self.new_lead_action)
        bar.addSeparator()
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search name, email or company  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(280)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.returnPressed.connect(self.apply_filter)
        bar.addWidget(self.search)
        self.tag_filter = self._filter_combo(bar, "tagFilter", "All tags")
        self.owner_filter = self._filter_combo(bar, "ownerFilter", "All owners")
        self.source_filter = self._filter_combo(bar, "sourceFilter", "All sources")
        self.clear_filters_action = self._action("Clear filters", self.clear_filters)
        bar.addAction(self.clear_filters_action)
        self.search.installEventFilter(self)  # Escape there clears search and filters
        self._fill_filter_choices()

    def _filter_combo(self, bar: QToolBar, name: str, everything: str) -> QComboBox:
        combo = FilterCombo(self._fill_filter_choices)
        combo.setObjectName(name)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.setProperty("everything", everything)
        combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
        bar.addWidget(combo)
        return combo

    def _fill_filter_choices(self) -> None:
        choices = {
            self.tag_filter: lead_service.all_tags(self.workspace),
            self.owner_filter: lead_service.distinct_values(self.workspace, "owner"),
            self.source_filter: lead_service.distinct_values(self.workspace, "source"),
        }
        for combo, values in choices.items():
            current = combo.currentData() or ALL
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(str(combo.property("everything")), ALL)
            for value in values:
                combo.addItem(value, value)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self._action("&New Workspace…", self.new_workspace, "Ctrl+Shift+N"))
        file_menu.addAction(
            self._action("&Open Workspace…", self.open_workspace, QKeySequence.StandardKey.Open)
        )
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        self.file_menu = file_menu
        self.quit_action = self._action("&Quit", self.quit, QKeySequence.StandardKey.Quit)
        file_menu.addAction(self.quit_action)

        edit = menus.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        self.find_action = self._action("&Find…", self.focus_search, QKeySequence.StandardKey.Find)
        edit.addAction(self.find_action)
        self.edit_menu = edit

        lead = menus.addMenu("&Lead")
        lead.addAction(self.new_lead_action)
        self.edit_lead_action = self._action("&Edit Lead…", self.edit_selected, "Ctrl+E")
        lead.addAction(self.edit_lead_action)
        lead.addSeparator()
        self.next_stage_action = self._action(
            "Move to Ne&xt Stage", lambda: self.shift_selection(1), ["Alt+Right", "Ctrl+]"]
        )
        self.prev_stage_action = self._action(
            "Move to &Previous Stage", lambda: self.shift_selection(-1), ["Alt+Left", "Ctrl+["]
        )
        lead.addAction(self.next_stage_action)
        lead.addAction(self.prev_stage_action)
        self.move_to_menu = lead.addMenu("&Move To")
        self.move_to_menu.aboutToShow.connect(self._fill_move_to_menu)
        lead.addSeparator()
        self.delete_action = self._action(
            "&Delete…", self.delete_selected, QKeySequence.StandardKey.Delete
        )
        lead.addAction(self.delete_action)
        self.lead_menu = lead

        board = menus.addMenu("&Board")
        board.addAction(self._action("Manage S&tages…", self.manage_stages))
        board.addAction(self._action("Mark Cards Stale &After…", self.set_stale_days))
        board.addAction(self._action("&Refresh", self.refresh, QKeySequence.StandardKey.Refresh))
        self.board_menu = board

        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self._action("&About NurtureDesk", self.about))
        self.help_menu = help_menu

    def _build_status_bar(self) -> None:
        self.status_count = QLabel()
        self.status_count.setObjectName("statusCount")
        self.statusBar().addPermanentWidget(self.status_count)

    # --- board events ------------------------------------------------------------------

    def _on_leads_changed(self, event: LeadsChanged) -> None:
        self.board.on_leads_changed(event)

    def _check_external_changes(self) -> None:
        try:
            changed = self.workspace.changed_since_last_check()
        except Exception:  # the file is gone or locked for a moment: try again next time
            return
        if changed:
            self.board.catch_up()

    def _on_board_refreshed(self) -> None:
        self._update_status()
        self._update_actions()

    def _on_settings_changed(self, event: object) -> None:
        self.board.set_stale_days(int(get_setting(self.workspace, "stale_days")))

    def _update_status(self) -> None:
        shown = sum(c.model.total for c in self.board.columns)
        text = f"{shown:,} leads"
        if self.board.filter.active:
            text += " match"
        if selected := len(self.board.selected_lead_ids()):
            text += f" \u00b7 {selected:,} selected"  # what a bulk action will reach
        self.status_count.setText(text)

    def _update_actions(self) -> None:
        has = bool(self.board.selected_lead_ids())
        for action in (
            self.edit_lead_action,
            self.next_stage_action,
            self.prev_stage_action,
            self.delete_action,
        ):
            action.setEnabled(has)
        self.move_to_menu.setEnabled(has)

    # --- filtering ---------------------------------------------------------------------

    def current_filter(self) -> LeadFilter:
        flt = LeadFilter(
            search=self.search.text(),
            tag=self.tag_filter.currentData() or "",
            owner=self.owner_filter.currentData() or "",
            source=self.source_filter.currentData() or "",
        )
        for hook in self.filter_hooks:
            flt = hook(flt)
        return flt

    def apply_filter(self) -> None:
        self._search_timer.stop()
        self.board.set_filter(self.current_filter())
        self._update_status()
        self._update_actions()

    def clear_filters(self) -> None:
        for combo in (self.tag_filter, self.owner_filter, self.source_filter):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        for reset in self.filter_resets:
            reset()
        self.apply_filter()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.search
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            self.clear_filters()
            return True
        return super().eventFilter(watched, event)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def refresh(self) -> None:
        self._fill_filter_choices()
        self.board.rebuild()
        self._update_status()

    def _say_what_was_done(self, index: int) -> None:
        """Each action, undo and redo says in the status bar what it did: a bulk tag of
        20,000 leads used to end without a word, only the Edit menu's Undo entry told."""
        before, self._undo_index = self._undo_index, index
        top = self.undo_stack.command(index - 1) if index else None
        # An action pushed once the stack holds its limit of 200 leaves the index as it was
        # (the oldest step goes), as does one that changed nothing: the top step tells.
        pushed = index > before or (index == before and top is not self._undo_top)
        self._undo_top = top
        if pushed and top is not None:
            self.statusBar().showMessage(f"{top.text()}: done (Ctrl+Z undoes it)", 10_000)
        elif index < before and (undone := self.undo_stack.command(index)) is not None:
            self.statusBar().showMessage(f"{undone.text()}: undone", 10_000)

    # --- lead actions ------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, "NurtureDesk", message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not exec(): never block the event loop (the scheduler keeps working)

    def drop_leads(self, lead_ids: list[int], stage_id: int, before_lead_id: int | None) -> None:
        """A drop on the board: one undoable move."""
        column = self.board.column_for(stage_id)  # the board knows its stages: no query
        stage = column.model.stage if column is not None else get_stage(self.workspace, stage_id)
        self.undo_stack.push(
            MoveLeadsCommand(
                self.workspace, lead_ids, stage_id, stage.name, before_lead_id, self.show_error
            )
        )
        self.board.select_after_refresh(lead_ids)

    def shift_selection(self, delta: int) -> None:
        """Move the selected cards to the next (or previous) stage: the keyboard's drag."""
        ids = self.board.selected_lead_ids()
        current = self.board.stage_of_selection()
        if not ids or current is None:
            return
        stages = list_stages(self.workspace)
        index = next(i for i, s in enumerate(stages) if s.id == current)
        target = index + delta
        if not 0 <= target < len(stages):
            return
        self.move_to_top(ids, stages[target].id)

    def move_to_top(self, lead_ids: list[int], stage_id: int) -> None:
        """Move cards (keyboard, Move To menu) to the top of a column, where they stay in
        sight and selected: at the end of a long column they would land below the cards
        loaded so far, and Alt+Right could not carry them on."""
        column = self.board.column_for(stage_id)
        loaded = column.model.lead_ids() if column is not None else []
        first = next((i for i in loaded if i not in lead_ids), None)
        self.drop_leads(lead_ids, stage_id, first)

    def _fill_move_to_menu(self) -> None:
        self.move_to_menu.clear()
        for stage in list_stages(self.workspace):
            action = self.move_to_menu.addAction(stage.name)
            action.triggered.connect(
                lambda _c=False, s=stage.id: self.move_to_top(self.board.selected_lead_ids(), s)
            )

    def new_lead(self) -> None:
        stages = list_stages(self.workspace)

        def save(data: LeadData, stage_id: int | None) -> None:
            lead = lead_service.add_lead(self.workspace, data, stage_id)
            self.undo_stack.push(AddLeadCommand(self.workspace, lead, self.show_error))
            self._last_added = lead.id

        editor = LeadEditor(save, None, stages, self.board.stage_of_selection(), self)
        if editor.exec():
            self.board.select_after_refresh([self._last_added])

    def edit_selected(self) -> None:
        ids = self.board.selected_lead_ids()
        if ids:
            self.edit_lead(ids[0])

    def edit_lead(self, lead_id: int) -> None:
        try:
            lead = lead_service.get_lead(self.workspace, lead_id)
        except Exception as exc:  # deleted meanwhile (another process)
            self.show_error(str(exc))
            return

        def save(data: LeadData, _stage_id: int | None) -> None:
            before, after = lead_service.update_lead(self.workspace, lead_id, data)
            if before != after:
                self.undo_stack.push(
                    EditLeadCommand(self.workspace, before, after, self.show_error)
                )

        self.lead_editor = LeadEditor(save, lead, parent=self)
        from nurturedesk.ui.lead_nurture import attach_nurture_summary  # issue 3

        attach_nurture_summary(self.lead_editor, self.workspace, lead_id, lead.email)
        self.scoring.attach_to_editor(self.lead_editor, lead_id)
        self.lead_editor.exec()

    def delete_selected(self) -> None:
        ids = self.board.selected_lead_ids()
        if not ids:
            return
        what = "this lead" if len(ids) == 1 else f"these {len(ids)} leads"
        answer = QMessageBox.question(
            self,
            "Delete leads",
            f"Delete {what}? You can undo this with Ctrl+Z.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.undo_stack.push(DeleteLeadsCommand(self.workspace, ids, self.show_error))

    # --- board settings ----------------------------------------------------------------

    def manage_stages(self) -> None:
        StagesDialog(self.workspace, self).exec()

    def set_stale_days(self) -> None:
        current = int(get_setting(self.workspace, "stale_days"))
        days, ok = QInputDialog.getInt(
            self,
            "Stale cards",
            "Mark a card as going stale after this many days in an open stage:",
            current,
            1,
            3650,
        )
        if ok:
            set_setting(self.workspace, "stale_days", days)

    # --- workspaces --------------------------------------------------------------------

    def new_workspace(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New workspace", str(Path.home() / "workspace.sqlite"), "Workspaces (*.sqlite)"
        )
        if path:
            target = Path(path)
            if target.exists():
                self.show_error(f"{target} already exists; choose a new name.")
                return
            self.openWorkspaceRequested.emit(target)

    def open_workspace(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open workspace", str(Path.home()), "Workspaces (*.sqlite *.db);;All files (*)"
        )
        if path:
            self.openWorkspaceRequested.emit(Path(path))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = ui_settings.recent_workspaces()
        for path in recent:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.openWorkspaceRequested.emit(p))
        if not recent:
            self.recent_menu.addAction("No recent workspaces").setEnabled(False)

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About NurtureDesk",
            f"<b>NurtureDesk {__version__}</b><p>Nurture leads until they are ready to buy."
            f"<p>Workspace: {self.workspace.display_name}",
        )

    # --- window lifetime ---------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry, state = ui_settings.window_geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1360, 800)
        if state is not None:
            self.restoreState(state)

    def save_geometry(self) -> None:
        ui_settings.save_window_state(self.saveGeometry(), self.saveState())

    def quit(self) -> None:
        """File ▸ Quit: really quit (closing the window only hides it to the tray, or asks)."""
        self.quitting = True
        self.save_geometry()
        from PySide6.QtWidgets import QApplication

        QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_geometry()
        super().closeEvent(event)

    def menu(self, name: str) -> QMenu:
        """A top-level menu by name ("file", "edit", "lead", "board", "help") for add-ons."""
        return {
            "file": self.file_menu,
            "edit": self.edit_menu,
            "lead": self.lead_menu,
            "board": self.board_menu,
            "help": self.help_menu,
        }[name]
